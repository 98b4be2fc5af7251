using Grpc.Core;
using Terrarium.Head;
using Terrarium.Head.Jobs;
using Terrarium.Head.Packages;
using Terrarium.Head.Service;
using Terrarium.Head.State;
using Terrarium.Protocol;

namespace Terrarium.Tests.Head.Service;

/// <summary>
/// The head's RPCs on its real state: requests that lack what they need are refused by name, and
/// every change is in the head's store by the time the caller hears it succeeded (the store here
/// records what it was told; the Redis store is tested against a real Redis in the integration tests).
/// </summary>
public sealed class HeadServiceTests : IDisposable
{
    private static readonly ServerCallContext Call = new TestCallContext();
    private readonly DirectoryInfo _storage = Directory.CreateTempSubdirectory("terrarium-head-");
    private readonly RecordingStore _store = new();
    private readonly HeadService _service;

    public HeadServiceTests()
    {
        var options = new HeadOptions { StorageDirectory = _storage.FullName };
        var state = new HeadState(options);
        _service = new HeadService(state, new PackageStore(options, state, _store), new JobSubmissions(options, state, _store), options, _store);
    }

    public void Dispose() => _storage.Delete(recursive: true);

    [Fact]
    public async Task RegisterNode_IsSavedBeforeTheReply_AndListedAlive()
    {
        var reply = await _service.RegisterNode(new RegisterNodeRequest { Node = new NodeInfo { NodeId = "node-1", Address = "127.0.0.1:7000" } }, Call);

        Assert.Equal(1, reply.HeartbeatIntervalSeconds);
        Assert.Equal(["node node-1"], _store.Saved);
        var listed = Assert.Single((await _service.ListNodes(new ListNodesRequest(), Call)).Nodes);
        Assert.Equal(("node-1", true), (listed.Node.NodeId, listed.Alive));
    }

    [Fact]
    public async Task ActorName_TakenByAnotherActor_IsAlreadyExists_AndReleasedOnlyByItsOwnActor()
    {
        var job = (await _service.RegisterJob(new RegisterJobRequest { Driver = "test" }, Call)).JobId;
        await _service.RegisterActorName(new RegisterActorNameRequest { Name = "counter", ActorId = job + "-a1", NodeId = "node-1" }, Call);

        var taken = await Assert.ThrowsAsync<RpcException>(() => _service.RegisterActorName(new RegisterActorNameRequest { Name = "counter", ActorId = job + "-a2" }, Call));
        await _service.ReleaseActorName(new ReleaseActorNameRequest { Name = "counter", ActorId = job + "-a2" }, Call);

        Assert.Equal(StatusCode.AlreadyExists, taken.StatusCode);
        Assert.Contains("an actor named 'counter' already exists", taken.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(job + "-a1", (await _service.LookupActor(new LookupActorRequest { Name = "counter" }, Call)).ActorId);
        Assert.DoesNotContain("removed names counter", _store.Saved);

        await _service.ReleaseActorName(new ReleaseActorNameRequest { Name = "counter", ActorId = job + "-a1" }, Call);

        Assert.False((await _service.LookupActor(new LookupActorRequest { Name = "counter" }, Call)).Found);
        Assert.Contains("removed names counter", _store.Saved);
    }

    [Fact]
    public async Task FinishJob_ReleasesItsActorsNames_AndNoOtherJobs_InTheStoreToo()
    {
        var ending = (await _service.RegisterJob(new RegisterJobRequest { Driver = "ending" }, Call)).JobId;
        var staying = (await _service.RegisterJob(new RegisterJobRequest { Driver = "staying" }, Call)).JobId;
        await _service.RegisterActorName(new RegisterActorNameRequest { Name = "mine", ActorId = ending + "-a1" }, Call);
        await _service.RegisterActorName(new RegisterActorNameRequest { Name = "theirs", ActorId = staying + "-a1" }, Call);

        await _service.FinishJob(new FinishJobRequest { JobId = ending }, Call);

        Assert.False((await _service.LookupActor(new LookupActorRequest { Name = "mine" }, Call)).Found);
        Assert.True((await _service.LookupActor(new LookupActorRequest { Name = "theirs" }, Call)).Found);
        Assert.Contains($"removed job {ending}", _store.Saved);
        Assert.Contains("removed names mine", _store.Saved);
    }

    [Fact]
    public async Task AJobsPackageUses_AreStored_AndLeaveWithTheJob_WhenItsHomeNodeReportsItEnded()
    {
        var job = (await _service.RegisterJob(new RegisterJobRequest { Driver = "test" }, Call)).JobId;
        var bytes = "a job's working dir"u8.ToArray();
        var hash = Packages.PackageStreams.Hash(bytes);
        await _service.UploadPackage(Packages.PackageStreams.Chunks(hash, bytes.Length, bytes), Call);
        await _service.RegisterActorName(new RegisterActorNameRequest { Name = "mine", ActorId = job + "-a1" }, Call);

        Assert.True((await _service.HasPackage(new HasPackageRequest { Hash = hash, JobId = job }, Call)).Present);
        Assert.Contains($"job {job} uses {hash}", _store.Saved);
        Assert.Equal([job], Assert.Single((await _service.ListPackages(new ListPackagesRequest(), Call)).Packages).Jobs);

        var heartbeat = new HeartbeatRequest { NodeId = "node-1" };
        heartbeat.EndedJobs.Add(job);
        await _service.Heartbeat(heartbeat, Call);

        Assert.Empty(Assert.Single((await _service.ListPackages(new ListPackagesRequest(), Call)).Packages).Jobs);
        Assert.Contains($"job {job} no longer uses {hash}", _store.Saved);
        Assert.Contains($"removed job {job}", _store.Saved);
        Assert.False((await _service.LookupActor(new LookupActorRequest { Name = "mine" }, Call)).Found);
    }

    [Fact]
    public async Task HeartbeatReplies_TellNodesOfEndedJobs_OnceEach_AndAllAgainToANodeThatReadAnotherHeadsList()
    {
        var job = (await _service.RegisterJob(new RegisterJobRequest { Driver = "test" }, Call)).JobId;
        await _service.RegisterNode(new RegisterNodeRequest { Node = new NodeInfo { NodeId = "node-1", Address = "127.0.0.1:7000" } }, Call);
        var before = await _service.Heartbeat(new HeartbeatRequest { NodeId = "node-1" }, Call);

        await _service.FinishJob(new FinishJobRequest { JobId = job }, Call);
        var told = await _service.Heartbeat(new HeartbeatRequest { NodeId = "node-1", EndedJobsCursor = before.EndedJobsCursor, EndedJobsEpoch = before.EndedJobsEpoch }, Call);
        var again = await _service.Heartbeat(new HeartbeatRequest { NodeId = "node-1", EndedJobsCursor = told.EndedJobsCursor, EndedJobsEpoch = told.EndedJobsEpoch }, Call);
        var ofAnotherHead = await _service.Heartbeat(new HeartbeatRequest { NodeId = "node-1", EndedJobsCursor = told.EndedJobsCursor, EndedJobsEpoch = "a previous head's" }, Call);

        Assert.Empty(before.EndedJobs);
        Assert.Equal([job], told.EndedJobs);
        Assert.Empty(again.EndedJobs);
        Assert.Equal([job], ofAnotherHead.EndedJobs);
    }

    private static readonly Dictionary<string, Func<HeadService, Task>> s_incompleteRequests = new()
    {
        ["RegisterNode without a node"] = s => s.RegisterNode(new RegisterNodeRequest(), Call),
        ["RegisterNode with a relative object socket"] = s => s.RegisterNode(new RegisterNodeRequest { Node = new NodeInfo { NodeId = "n", ObjectSocket = "objects.sock" } }, Call),
        ["RegisterNode with a Unix object address"] = s => s.RegisterNode(new RegisterNodeRequest { Node = new NodeInfo { NodeId = "n", ObjectAddress = "unix:/run/objects.sock" } }, Call),
        ["RegisterNode with an object address without a port"] = s => s.RegisterNode(new RegisterNodeRequest { Node = new NodeInfo { NodeId = "n", ObjectAddress = "10.0.0.5" } }, Call),
        ["RegisterActorName with a blank name"] = s => s.RegisterActorName(new RegisterActorNameRequest { Name = " ", ActorId = "a" }, Call),
        ["RegisterActorName without an actor"] = s => s.RegisterActorName(new RegisterActorNameRequest { Name = "n" }, Call),
        ["LookupActor of nothing"] = s => s.LookupActor(new LookupActorRequest(), Call),
        ["RecordActorMoved without a node"] = s => s.RecordActorMoved(new RecordActorMovedRequest { ActorId = "a" }, Call),
        ["FinishJob without a job"] = s => s.FinishJob(new FinishJobRequest(), Call),
    };

    [Theory]
    [InlineData("RegisterNode without a node", "RegisterNode needs node.node_id")]
    [InlineData("RegisterNode with a relative object socket", "RegisterNode's node.object_socket must be an absolute path (got 'objects.sock')")]
    [InlineData("RegisterNode with a Unix object address", "RegisterNode's node.object_address must be 'host:port' (got 'unix:/run/objects.sock')")]
    [InlineData("RegisterNode with an object address without a port", "RegisterNode's node.object_address must be 'host:port' (got '10.0.0.5')")]
    [InlineData("RegisterActorName with a blank name", "RegisterActorName needs a name and an actor_id")]
    [InlineData("RegisterActorName without an actor", "RegisterActorName needs a name and an actor_id")]
    [InlineData("LookupActor of nothing", "LookupActor needs a name or an actor_id")]
    [InlineData("RecordActorMoved without a node", "RecordActorMoved needs an actor_id and a node_id")]
    [InlineData("FinishJob without a job", "ending a job needs its job_id")]
    public async Task IncompleteRequest_IsInvalidArgument_NamingWhatItLacks_AndChangesNothing(string request, string expected)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => s_incompleteRequests[request](_service));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal(expected, error.Status.Detail);
        Assert.Empty(_store.Saved);
    }

    [Fact]
    public async Task CertificateRequests_ToAHeadWithoutTls_AreRefusedSayingHowToStartTheNode()
    {
        var ca = await Assert.ThrowsAsync<RpcException>(() => _service.GetClusterCa(new GetClusterCaRequest(), Call));
        var issue = await Assert.ThrowsAsync<RpcException>(() => _service.IssueNodeCertificate(new IssueNodeCertificateRequest { NodeId = "n" }, Call));

        Assert.Equal(StatusCode.FailedPrecondition, ca.StatusCode);
        Assert.Contains("this head serves no TLS", ca.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.FailedPrecondition, issue.StatusCode);
        Assert.Contains("start the node with --insecure", issue.Status.Detail, StringComparison.Ordinal);
    }

    /// <summary>Records what the head asked it to keep, in order.</summary>
    private sealed class RecordingStore : IHeadStore
    {
        public List<string> Saved { get; } = [];

        public Task<StoredHeadState> LoadAsync() => Task.FromResult(StoredHeadState.Empty);

        public Task SaveNodeAsync(NodeInfo node) => Record($"node {node.NodeId}");

        public Task RemoveNodesAsync(IReadOnlyCollection<string> nodeIds) => Record($"removed nodes {string.Join(',', nodeIds)}");

        public Task SaveJobAsync(string jobId, RegisterJobRequest job) => Record($"job {jobId}");

        public Task RemoveJobAsync(string jobId) => Record($"removed job {jobId}");

        public Task SaveJobPackageAsync(string jobId, string hash) => Record($"job {jobId} uses {hash}");

        public Task RemoveJobPackagesAsync(string jobId, IReadOnlyCollection<string> hashes) =>
            hashes.Count == 0 ? Task.CompletedTask : Record($"job {jobId} no longer uses {string.Join(',', hashes)}");

        public Task SaveActorNameAsync(string name, LookupActorReply actor) => Record($"name {name} = {actor.ActorId}");

        public Task RemoveActorNamesAsync(IReadOnlyCollection<string> names) => names.Count == 0 ? Task.CompletedTask : Record($"removed names {string.Join(',', names)}");

        public Task SaveMovedActorAsync(LookupActorReply actor) => Record($"moved {actor.ActorId}");

        public Task RemoveMovedActorsAsync(IReadOnlyCollection<string> actorIds) => actorIds.Count == 0 ? Task.CompletedTask : Record($"removed moved {string.Join(',', actorIds)}");

        public Task SaveSubmissionAsync(JobSubmission job) => Record($"submission {job.SubmissionId} {job.State}");

        public Task RemoveSubmissionAsync(string submissionId) => Record($"removed submission {submissionId}");

        public Task AppendJobLogAsync(JobSubmission job, byte[] added, byte[]? replaceWith) =>
            Record($"submission {job.SubmissionId} output +{added.Length}{(replaceWith is null ? "" : $" kept {replaceWith.Length}")}");

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        private Task Record(string what)
        {
            lock (Saved)
            {
                Saved.Add(what);
            }

            return Task.CompletedTask;
        }
    }

    /// <summary>A call's context as the service sees it: these RPCs read nothing of it but its cancellation.</summary>
    private sealed class TestCallContext : ServerCallContext
    {
        protected override string MethodCore => "test";

        protected override string HostCore => "localhost";

        protected override string PeerCore => "unix:test";

        protected override DateTime DeadlineCore => DateTime.MaxValue;

        protected override Metadata RequestHeadersCore { get; } = [];

        protected override CancellationToken CancellationTokenCore => CancellationToken.None;

        protected override Metadata ResponseTrailersCore { get; } = [];

        protected override Status StatusCore { get; set; }

        protected override WriteOptions? WriteOptionsCore { get; set; }

        protected override AuthContext AuthContextCore { get; } = new(null, []);

        protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) => throw new NotSupportedException();

        protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
    }
}
