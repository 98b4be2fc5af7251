using Grpc.Core;
using Terrarium.Head.Jobs;
using Terrarium.Head.Packages;
using Terrarium.Head.State;
using Terrarium.Protocol;

namespace Terrarium.Head.Service;

/// <summary>
/// The gRPC face of <see cref="HeadState"/>: validates requests and answers. Every change is in the
/// <see cref="IHeadStore"/> before the caller hears it succeeded.
/// </summary>
internal sealed partial class HeadService(HeadState state, PackageStore packages, JobSubmissions submissions, HeadOptions options, IHeadStore store) : Protocol.Head.HeadBase
{
    public override async Task<HasPackageReply> HasPackage(HasPackageRequest request, ServerCallContext context) =>
        new() { Present = await packages.HasAsync(request.Hash, request.JobId).ConfigureAwait(false) };

    public override async Task<UploadPackageReply> UploadPackage(IAsyncStreamReader<PackageChunk> requestStream, ServerCallContext context) =>
        new() { Stored = await packages.ReceiveAsync(requestStream, context.CancellationToken).ConfigureAwait(false) };

    public override Task DownloadPackage(DownloadPackageRequest request, IServerStreamWriter<PackageChunk> responseStream, ServerCallContext context) =>
        packages.SendAsync(request.Hash, responseStream, context.CancellationToken);

    // Both release the ended jobs' uses first: with no node heartbeating, nothing else would.
    public override async Task<ListPackagesReply> ListPackages(ListPackagesRequest request, ServerCallContext context)
    {
        await packages.ReleaseEndedJobsAsync().ConfigureAwait(false);
        return packages.List();
    }

    public override async Task<CollectPackagesReply> CollectPackages(CollectPackagesRequest request, ServerCallContext context)
    {
        await packages.ReleaseEndedJobsAsync().ConfigureAwait(false);
        var reply = new CollectPackagesReply();
        reply.Removed.AddRange(packages.CollectUnused(request.DryRun));
        return reply;
    }

    public override async Task<RegisterNodeReply> RegisterNode(RegisterNodeRequest request, ServerCallContext context)
    {
        if (request.Node is null || string.IsNullOrEmpty(request.Node.NodeId))
        {
            throw Invalid("RegisterNode needs node.node_id");
        }

        if (request.Node.ObjectSocket.Length > 0 && !Path.IsPathFullyQualified(request.Node.ObjectSocket))
        {
            throw Invalid($"RegisterNode's node.object_socket must be an absolute path (got '{request.Node.ObjectSocket}')");
        }

        if (request.Node.ObjectAddress.Length > 0 && !IsTcpAddress(request.Node.ObjectAddress))
        {
            throw Invalid($"RegisterNode's node.object_address must be 'host:port' (got '{request.Node.ObjectAddress}')");
        }

        state.RegisterNode(request.Node);
        await store.SaveNodeAsync(request.Node).ConfigureAwait(false);
        return new RegisterNodeReply { HeartbeatIntervalSeconds = options.HeartbeatInterval.TotalSeconds };
    }

    public override async Task<HeartbeatReply> Heartbeat(HeartbeatRequest request, ServerCallContext context)
    {
        var known = state.Heartbeat(request.NodeId, request.Available, request.DetachedActorJobs, request.EndedJobsCursor, request.EndedJobsEpoch);
        // A malformed id is skipped, not refused: refusing would fail every heartbeat the node sends it in.
        foreach (var jobId in request.EndedJobs.Where(id => !string.IsNullOrWhiteSpace(id)))
        {
            await EndJobAsync(jobId).ConfigureAwait(false);
        }

        var reply = new HeartbeatReply { Known = known };
        var driversEnded = known ? await submissions.OnHeartbeatAsync(request.NodeId, request.JobDrivers, reply).ConfigureAwait(false) : [];
        driversEnded.AddRange(await submissions.FailThoseOfGoneNodesAsync().ConfigureAwait(false));
        foreach (var jobId in driversEnded)
        {
            // Its tasks and actors end now, not once the driver's home node notices its session gone.
            await EndJobAsync(jobId).ConfigureAwait(false);
        }

        // Nodes report every second: reason enough to forget, now and then, the ones gone for good,
        // and the uses of jobs whose detached actors are gone.
        await ForgetLongDeadNodesAsync().ConfigureAwait(false);
        await packages.ReleaseEndedJobsAsync().ConfigureAwait(false);
        var (ended, cursor) = state.EndedJobsSince(request.EndedJobsCursor, request.EndedJobsEpoch);
        (reply.EndedJobsCursor, reply.EndedJobsEpoch) = (cursor, state.EndedJobsEpoch);
        reply.EndedJobs.AddRange(ended);
        return reply;
    }

    public override async Task<ListNodesReply> ListNodes(ListNodesRequest request, ServerCallContext context)
    {
        await ForgetLongDeadNodesAsync().ConfigureAwait(false);
        var reply = new ListNodesReply();
        reply.Nodes.AddRange(state.ListNodes());
        return reply;
    }

    public override async Task<RegisterJobReply> RegisterJob(RegisterJobRequest request, ServerCallContext context)
    {
        var jobId = state.RegisterJob(request.Driver, request.DefaultRuntimeEnv);
        await store.SaveJobAsync(jobId, request).ConfigureAwait(false);
        if (request.SubmissionId.Length > 0)
        {
            await submissions.LinkJobAsync(request.SubmissionId, jobId).ConfigureAwait(false);
        }

        return new RegisterJobReply { JobId = jobId };
    }

    public override async Task<FinishJobReply> FinishJob(FinishJobRequest request, ServerCallContext context)
    {
        await EndJobAsync(request.JobId).ConfigureAwait(false);
        return new FinishJobReply();
    }

    public override async Task<RegisterActorNameReply> RegisterActorName(RegisterActorNameRequest request, ServerCallContext context)
    {
        if (string.IsNullOrWhiteSpace(request.Name) || string.IsNullOrEmpty(request.ActorId))
        {
            throw Invalid("RegisterActorName needs a name and an actor_id");
        }

        if (!state.TryRegisterActorName(request))
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists,
                $"an actor named '{request.Name}' already exists; pick another name or get it with GetActorAsync"));
        }

        await store.SaveActorNameAsync(request.Name, state.LookupActor(request.Name)).ConfigureAwait(false);
        return new RegisterActorNameReply();
    }

    public override async Task<ReleaseActorNameReply> ReleaseActorName(ReleaseActorNameRequest request, ServerCallContext context)
    {
        if (state.ReleaseActorName(request.Name, request.ActorId))
        {
            await store.RemoveActorNamesAsync([request.Name]).ConfigureAwait(false);
        }

        return new ReleaseActorNameReply();
    }

    public override Task<LookupActorReply> LookupActor(LookupActorRequest request, ServerCallContext context)
    {
        if (request.Name.Length == 0 && request.ActorId.Length == 0)
        {
            throw Invalid("LookupActor needs a name or an actor_id");
        }

        return Task.FromResult(request.Name.Length > 0 ? state.LookupActor(request.Name) : state.LookupMovedActor(request.ActorId));
    }

    public override async Task<RecordActorMovedReply> RecordActorMoved(RecordActorMovedRequest request, ServerCallContext context)
    {
        if (request.ActorId.Length == 0 || request.NodeId.Length == 0)
        {
            throw Invalid("RecordActorMoved needs an actor_id and a node_id");
        }

        await store.SaveMovedActorAsync(state.RecordActorMoved(request)).ConfigureAwait(false);
        return new RecordActorMovedReply();
    }

    public override Task<GetClusterCaReply> GetClusterCa(GetClusterCaRequest request, ServerCallContext context)
    {
        if (!options.Tls.IsTls)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "this head serves no TLS: it has no certificate authority to give"));
        }

        return Task.FromResult(new GetClusterCaReply
        {
            AuthoritiesPem = string.Concat(options.Tls.Authorities.Select(a => a.ExportCertificatePem() + "\n")),
        });
    }

    public override Task<IssueNodeCertificateReply> IssueNodeCertificate(IssueNodeCertificateRequest request, ServerCallContext context)
    {
        if (options.CertificateAuthority is not { } authority)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, options.Tls.IsTls
                ? "this cluster's certificates come from its operator: start the node with --tls-cert and --tls-key"
                : "this cluster runs without TLS (--insecure): start the node with --insecure"));
        }

        if (string.IsNullOrWhiteSpace(request.NodeId) || request.NodeId.Length > 200)
        {
            throw Invalid("IssueNodeCertificate needs a node_id of 1 to 200 characters");
        }

        if (request.Hosts.Count > 16 || request.Hosts.Any(h => h.Length > 253))
        {
            throw Invalid("IssueNodeCertificate takes at most 16 hosts of at most 253 characters");
        }

        try
        {
            using var certificate = authority.IssueForRequest(request.SigningRequestPem, request.NodeId, request.Hosts);
            return Task.FromResult(new IssueNodeCertificateReply { CertificatePem = certificate.ExportCertificatePem() });
        }
        catch (ArgumentException e)
        {
            throw Invalid(e.Message);
        }
    }

    /// <summary>
    /// The job is over (its driver said so, or its home node saw the driver go): its actor names are
    /// free, and the packages only it used become unused unless its detached actors live. Ending a
    /// job twice does nothing more.
    /// </summary>
    private async Task EndJobAsync(string jobId)
    {
        if (string.IsNullOrWhiteSpace(jobId))
        {
            // Every actor id starts with the empty string: it would free every job's names.
            throw Invalid("ending a job needs its job_id");
        }

        var (names, movedActors) = state.FinishJob(jobId);
        await store.RemoveJobAsync(jobId).ConfigureAwait(false);
        await store.RemoveActorNamesAsync(names).ConfigureAwait(false);
        await store.RemoveMovedActorsAsync(movedActors).ConfigureAwait(false);
        await packages.ReleaseEndedJobsAsync().ConfigureAwait(false);
    }

    /// <summary>Forgets the nodes dead past the retention, in memory and in the store — unless one registered again meanwhile.</summary>
    private async Task ForgetLongDeadNodesAsync()
    {
        var (forgotten, freedNames, droppedMoves) = state.ForgetLongDeadNodes();
        if (forgotten.Count + freedNames.Count + droppedMoves.Count == 0)
        {
            return;
        }

        await store.RemoveActorNamesAsync(freedNames).ConfigureAwait(false);
        await store.RemoveMovedActorsAsync(droppedMoves).ConfigureAwait(false);
        await store.RemoveNodesAsync(forgotten).ConfigureAwait(false);
        foreach (var back in state.ListNodes().Where(n => forgotten.Contains(n.Node.NodeId)))
        {
            await store.SaveNodeAsync(back.Node).ConfigureAwait(false);
        }
    }

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));

    private static bool IsTcpAddress(string address)
    {
        try
        {
            return Protocol.Transport.Endpoint.Parse(address).SocketPath is null;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
