using Terrarium.Head;
using Terrarium.Head.Jobs;
using Terrarium.Head.State;
using Terrarium.Protocol;

namespace Terrarium.Tests.Head.Jobs;

/// <summary>A submitted job's states as the head moves it through them, from what nodes report with their heartbeats.</summary>
public sealed class JobSubmissionsTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("terrarium-jobs-");
    private readonly HeadState _cluster;
    private readonly JobSubmissions _jobs;

    public JobSubmissionsTests()
    {
        var options = new HeadOptions { StorageDirectory = _root.FullName };
        _cluster = new HeadState(options);
        _jobs = new JobSubmissions(options, _cluster, new MemoryOnly());
        _cluster.RegisterNode(new NodeInfo { NodeId = "n1" });
    }

    public void Dispose() => _root.Delete(recursive: true);

    [Fact]
    public async Task AJob_IsHandedToTheFirstNodeToReport_RunsWhenItsDriverStarts_AndSucceedsWhenItExitsWithZero()
    {
        await _jobs.SubmitAsync(Submit("a"));
        Assert.Equal(("PENDING", ""), State("a"));

        var first = await HeartbeatAsync();
        Assert.Equal(["a"], first.Reply.StartJobDrivers.Select(j => j.SubmissionId));
        Assert.Equal(("PENDING", "n1"), State("a"));

        await _jobs.LinkJobAsync("a", "job-0001-abcdef");
        await HeartbeatAsync(new JobDriverState { SubmissionId = "a", Pid = 42 });
        Assert.Equal(("RUNNING", "n1"), State("a"));

        var ended = await HeartbeatAsync(new JobDriverState { SubmissionId = "a", Pid = 42, Exited = true, ExitCode = 0 });
        Assert.Equal(("SUCCEEDED", "n1"), State("a"));
        Assert.Equal(["job-0001-abcdef"], ended.JobsToEnd);
        Assert.Equal(["a"], ended.Reply.ForgetJobDrivers);
        Assert.Equal((true, 0, 42), (_jobs.Get("a").Exited, _jobs.Get("a").ExitCode, _jobs.Get("a").DriverPid));
    }

    [Fact]
    public async Task ADriverThatExitsWithAnotherStatus_OrCannotStart_Fails_SayingWhy()
    {
        await _jobs.SubmitAsync(Submit("bad"));
        await _jobs.SubmitAsync(Submit("missing"));
        await HeartbeatAsync();

        await HeartbeatAsync(
            new JobDriverState { SubmissionId = "bad", Pid = 7, Exited = true, ExitCode = 3 },
            new JobDriverState { SubmissionId = "missing", Failure = "its entrypoint 'x' could not be started" });

        Assert.Equal(("FAILED", "its driver exited with status 3"), (_jobs.Get("bad").State, _jobs.Get("bad").Message));
        Assert.Equal(("FAILED", "its entrypoint 'x' could not be started"), (_jobs.Get("missing").State, _jobs.Get("missing").Message));
    }

    [Fact]
    public async Task Stopped_BeforeANodeTookIt_OrBeforeItsDriverStarted_ItIsStoppedAndNeverStarted()
    {
        await _jobs.SubmitAsync(Submit("early"));
        Assert.Equal("STOPPED", (await _jobs.StopAsync("early")).State);

        await _jobs.SubmitAsync(Submit("assigned"));
        await HeartbeatAsync();
        await _jobs.StopAsync("assigned");
        var next = await HeartbeatAsync();

        Assert.Equal("STOPPED", _jobs.Get("assigned").State);
        Assert.Empty(next.Reply.StartJobDrivers);

        // Should the node start it anyway (from an earlier answer), its driver is stopped as it is reported.
        var late = await HeartbeatAsync(new JobDriverState { SubmissionId = "assigned", Pid = 9 });
        Assert.Equal(["assigned"], late.Reply.StopJobDrivers);
    }

    [Fact]
    public async Task ARunningJobStopped_ItsNodeIsToldUntilTheDriverExits_ThenItIsStopped()
    {
        await _jobs.SubmitAsync(Submit("long"));
        await HeartbeatAsync();
        await HeartbeatAsync(new JobDriverState { SubmissionId = "long", Pid = 5 });

        await _jobs.StopAsync("long");
        var told = await HeartbeatAsync(new JobDriverState { SubmissionId = "long", Pid = 5 });
        Assert.Equal(["long"], told.Reply.StopJobDrivers);
        await Assert.ThrowsAsync<InvalidOperationException>(() => _jobs.DeleteAsync("long"));

        await HeartbeatAsync(new JobDriverState { SubmissionId = "long", Pid = 5, Exited = true, ExitCode = 143 });
        Assert.Equal("STOPPED", _jobs.Get("long").State);
        await _jobs.DeleteAsync("long");
        Assert.Throws<KeyNotFoundException>(() => _jobs.Get("long"));
    }

    [Fact]
    public async Task ANodeThatRestartedWithoutItsDriver_OrDied_FailsItsJobs()
    {
        await _jobs.SubmitAsync(Submit("lost"));
        await HeartbeatAsync();
        await HeartbeatAsync(new JobDriverState { SubmissionId = "lost", Pid = 5 });

        await HeartbeatAsync();

        Assert.Equal(("FAILED", "node n1 no longer runs its driver (the node restarted)"), (_jobs.Get("lost").State, _jobs.Get("lost").Message));
    }

    [Theory]
    [InlineData("bad id", "true", "", "submission id 'bad id' must be 1 to 64 letters")]
    [InlineData("ok", "", "", "a job needs an entrypoint")]
    [InlineData("ok", "true", """{"working_dir": "/home/me/app"}""", "is a local path: upload it first")]
    [InlineData("ok", "true", """{"env_vars": 3}""", "the job's runtime env is invalid")]
    public async Task ABadSubmission_IsRefusedSayingWhat(string id, string program, string env, string error)
    {
        var request = new SubmitJobRequest { SubmissionId = id, RuntimeEnv = env };
        if (program.Length > 0)
        {
            request.Entrypoint.Add(program);
        }

        var refusal = await Assert.ThrowsAsync<ArgumentException>(() => _jobs.SubmitAsync(request));

        Assert.Contains(error, refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ASecondJobOfAnId_IsRefusedUntilTheFirstIsDeleted()
    {
        await _jobs.SubmitAsync(Submit("twice"));

        var refusal = await Assert.ThrowsAsync<InvalidOperationException>(() => _jobs.SubmitAsync(Submit("twice")));

        Assert.Contains("exists already", refusal.Message, StringComparison.Ordinal);
    }

    private static SubmitJobRequest Submit(string id) => new() { SubmissionId = id, Entrypoint = { "dotnet", "app.dll" } };

    private (string State, string NodeId) State(string id) => (_jobs.Get(id).State, _jobs.Get(id).NodeId);

    private async Task<(HeartbeatReply Reply, List<string> JobsToEnd)> HeartbeatAsync(params JobDriverState[] drivers)
    {
        var reply = new HeartbeatReply();
        var jobsToEnd = await _jobs.OnHeartbeatAsync("n1", drivers, reply);
        return (reply, jobsToEnd);
    }
}
