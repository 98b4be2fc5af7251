namespace Terrarium.IntegrationTests;

/// <summary>
/// Actor calls go straight from the caller to the actor's worker: these tests cover what that path
/// must keep — call order around refs, results used by tasks, and results delivered before an exit.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ActorCallPathTests(ClusterFixture fixture) : IDisposable
{
    private readonly string _gate = Path.Combine(Path.GetTempPath(), "terrarium-gate-" + Guid.NewGuid().ToString("N"));

    private Cluster Cluster => fixture.Cluster;

    public void Dispose() => File.Delete(_gate);

    [Fact]
    public async Task Call_WaitingForARef_CallsMadeAfterItRunAfterIt()
    {
        var counter = Cluster.CreateActor(() => new Counter(0));
        var slow = Cluster.Submit(() => TestTasks.WaitForFile(_gate, 5));

        var first = counter.Call(c => c.Increment(slow));
        var second = counter.Call(c => c.Increment(1));
        File.WriteAllText(_gate, "");

        Assert.Equal(5, await first.DefaultTimeout());
        Assert.Equal(6, await second.DefaultTimeout());
        await counter.KillAsync().DefaultTimeout();
    }

    [Fact]
    public async Task Call_ResultStillPendingWhenATaskTakesIt_TaskRunsWithTheValue()
    {
        var counter = Cluster.CreateActor(() => new Counter(10));
        var slow = Cluster.Submit(() => TestTasks.WaitForFile(_gate, 5));
        var call = counter.Call(c => c.Increment(slow));

        var task = Cluster.Submit(() => TestTasks.Add(call, 100));
        Assert.False(call.IsReady);
        File.WriteAllText(_gate, "");

        Assert.Equal(115, await task.DefaultTimeout());
        await counter.KillAsync().DefaultTimeout();
    }

    [Fact]
    public async Task Call_ReadyResultTakenByATaskAndAnActorConstructor_BothGetTheValue()
    {
        var counter = Cluster.CreateActor(() => new Counter(0));
        var seven = counter.Call(c => c.Increment(7));
        await seven.DefaultTimeout();

        var task = Cluster.Submit(() => TestTasks.Add(seven, 1));
        var other = Cluster.CreateActor(() => new Counter(seven));

        Assert.Equal(8, await task.DefaultTimeout());
        Assert.Equal(8, await other.Call(c => c.Increment(1)).DefaultTimeout());
        await counter.KillAsync().DefaultTimeout();
        await other.KillAsync().DefaultTimeout();
    }

    [Fact]
    public async Task Call_FailedResultTakenByATask_TaskFailsWithTheCallsError()
    {
        var counter = Cluster.CreateActor(() => new Counter(0));
        var failing = counter.Call(c => c.Fail("bad input"));

        var task = Cluster.Submit(() => TestTasks.Add(failing, 1));

        var error = await Assert.ThrowsAsync<TaskFailedException>(() => task.DefaultTimeout());
        Assert.Equal("System.ArgumentException", error.RemoteType);
        Assert.Contains("bad input", error.Message, StringComparison.Ordinal);
        await counter.KillAsync().DefaultTimeout();
    }

    [Fact]
    public async Task Call_TakesAnotherActorsPendingResult_RunsWithItsValue()
    {
        var source = Cluster.CreateActor(() => new Counter(0));
        var sink = Cluster.CreateActor(() => new Counter(1000));
        var slow = Cluster.Submit(() => TestTasks.WaitForFile(_gate, 3));

        var fromSource = source.Call(c => c.Increment(slow));
        var intoSink = sink.Call(c => c.Increment(fromSource));
        File.WriteAllText(_gate, "");

        Assert.Equal(1003, await intoSink.DefaultTimeout());
        await source.KillAsync().DefaultTimeout();
        await sink.KillAsync().DefaultTimeout();
    }

    [Fact]
    public async Task Call_TakesAFailedRef_FailsWithItsError_AndLaterCallsStillRun()
    {
        var counter = Cluster.CreateActor(() => new Counter(0));
        var failed = Cluster.Submit(() => TestTasks.Throw("no input"));

        var call = counter.Call(c => c.Increment(failed));
        var after = counter.Call(c => c.Increment(1));

        var error = await Assert.ThrowsAsync<TaskFailedException>(() => call.DefaultTimeout());
        Assert.Contains("no input", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, await after.DefaultTimeout());
        await counter.KillAsync().DefaultTimeout();
    }

    [Fact]
    public async Task Call_ActorExitsRightAfterReplying_EveryEarlierResultArrives()
    {
        var counter = Cluster.CreateActor(() => new Counter(0), new ActorOptions { MaxRestarts = 5 });
        for (var round = 0; round < 5; round++)
        {
            // Pipelined: the exit runs right behind the results, which must not be lost with it.
            var increments = Enumerable.Range(0, 20).Select(_ => counter.Call(c => c.Increment(1))).ToList();
            var crash = counter.Call(c => c.Crash());

            Assert.Equal(Enumerable.Range(1, 20), await Cluster.GetAsync(increments).DefaultTimeout());
            var error = await Assert.ThrowsAsync<ActorDiedException>(() => crash.DefaultTimeout());
            Assert.True(error.Message.Contains("exited with code 9", StringComparison.Ordinal), error.Message);
        }

        await counter.KillAsync().DefaultTimeout();
    }

    [Fact]
    public async Task Call_WorkerTerminatedBySigterm_FailsWithActorDied_InsteadOfHanging()
    {
        // The worker's gRPC host must leave SIGTERM to the process: the worker ends, and the node
        // and the callers hear of it.
        var counter = Cluster.CreateActor(() => new Counter(0));
        var pid = await counter.Call(c => c.Pid()).DefaultTimeout();

        using (var kill = System.Diagnostics.Process.Start("kill", ["-TERM", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync().DefaultTimeout();
        }

        var error = await Assert.ThrowsAsync<ActorDiedException>(async () =>
        {
            // Calls made before the node saw the exit may still reach the dying worker; the first
            // one after it must fail rather than wait forever.
            while (true)
            {
                await counter.Call(c => c.Increment(1)).DefaultTimeout();
            }
        });
        Assert.Contains("exited with code", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KillAsync_CallsWaitingForARef_FailWithTheKill()
    {
        var counter = Cluster.CreateActor(() => new Counter(0));
        Assert.Equal(1, await counter.Call(c => c.Increment(1)).DefaultTimeout());
        var slow = Cluster.Submit(() => TestTasks.WaitForFile(_gate, 5));
        var waiting = counter.Call(c => c.Increment(slow));

        await counter.KillAsync().DefaultTimeout();
        File.WriteAllText(_gate, "");

        var error = await Assert.ThrowsAsync<ActorDiedException>(() => waiting.DefaultTimeout());
        Assert.Contains("was killed", error.Message, StringComparison.Ordinal);
    }
}
