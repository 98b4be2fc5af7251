namespace Terrarium.IntegrationTests;

/// <summary>Cluster.CancelAsync and TaskOptions.Timeout, on real workers.</summary>
public sealed class CancellationTests : IAsyncLifetime, IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("terrarium-cancel-").FullName;
    private Cluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 1, LogToDriver = false }).DefaultTimeout();

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public async Task CancelAsync_QueuedTask_IsDroppedWithoutRunning()
    {
        var gate = Path.Combine(_scratch, "gate");
        var marks = Path.Combine(_scratch, "marks");
        var blocker = _cluster.Submit(() => TestTasks.WaitForFile(gate, 1));
        var queued = _cluster.Submit(() => CancelTasks.Mark(marks));

        await _cluster.CancelAsync(queued);
        File.WriteAllText(gate, "");

        var error = await Assert.ThrowsAsync<TaskCancelledException>(() => queued.DefaultTimeout());
        Assert.False(error.TimedOut);
        Assert.Equal("CancelTasks.Mark was cancelled", error.Message);
        Assert.Equal(1, await blocker.DefaultTimeout());
        Assert.Equal(1, await _cluster.Submit(() => TestTasks.Square(1)).DefaultTimeout());
        Assert.False(File.Exists(marks));
    }

    [Fact]
    public async Task ForceCancel_OfMoreTasksThanCpus_EndsEveryOne_AndTheirCpusComeBack()
    {
        // One CPU: the first runs, the others are sent ahead to its worker (pipelined) or queued.
        var marks = Path.Combine(_scratch, "forever");
        var forever = Enumerable.Range(0, 4).Select(_ => _cluster.Submit(() => CancelTasks.Forever(marks, CancellationToken.None))).ToList();
        await TestWaits.UntilAsync(() => File.Exists(marks), "the first task to start");

        foreach (var task in forever)
        {
            await _cluster.CancelAsync(task, force: true);
        }

        foreach (var task in forever)
        {
            await Assert.ThrowsAsync<TaskCancelledException>(() => task.DefaultTimeout());
        }

        Assert.Equal(9, await _cluster.Submit(() => TestTasks.Square(3)).DefaultTimeout());
        Assert.Single(File.ReadAllLines(marks));
    }

    [Fact]
    public async Task Cancel_OfMoreTasksThanCpus_WithoutForce_EndsEveryOne_TheRunningOneThroughItsToken()
    {
        var marks = Path.Combine(_scratch, "tokens");
        var waiting = Enumerable.Range(0, 4).Select(_ => _cluster.Submit(() => CancelTasks.UntilCancelled(marks, CancellationToken.None))).ToList();
        await TestWaits.UntilAsync(() => File.Exists(marks), "the first task to start");

        foreach (var task in waiting)
        {
            await _cluster.CancelAsync(task);
        }

        foreach (var task in waiting)
        {
            await Assert.ThrowsAsync<TaskCancelledException>(() => task.DefaultTimeout());
        }

        Assert.Equal(16, await _cluster.Submit(() => TestTasks.Square(4)).DefaultTimeout());
        Assert.Equal(["cancelled"], File.ReadAllLines(marks).Where(l => !l.StartsWith("started", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Timeout_OfTasksQueuedBehindEachOther_StopsEachOnceItRuns()
    {
        var marks = Path.Combine(_scratch, "timed");
        var limited = new TaskOptions { Timeout = TimeSpan.FromSeconds(1) };
        var tasks = Enumerable.Range(0, 3).Select(_ => _cluster.Submit(() => CancelTasks.Forever(marks, CancellationToken.None), limited)).ToList();

        foreach (var task in tasks)
        {
            Assert.True((await Assert.ThrowsAsync<TaskCancelledException>(() => task.DefaultTimeout())).TimedOut);
        }

        // Each ran (its clock starts when it does), and the CPU is free again.
        Assert.Equal(3, File.ReadAllLines(marks).Length);
        Assert.Equal(25, await _cluster.Submit(() => TestTasks.Square(5)).DefaultTimeout());
    }

    [Fact]
    public async Task CancelAsync_TaskWaitingForItsArgument_FailsAtOnce_AndNeverRuns()
    {
        var gate = Path.Combine(_scratch, "gate-dependency");
        var marks = Path.Combine(_scratch, "dependent");
        var dependency = _cluster.Submit(() => TestTasks.WaitForFile(gate, 1));
        var dependent = _cluster.Submit(() => CancelTasks.MarkWith(marks, dependency));

        await _cluster.CancelAsync(dependent);

        // Fails while its argument is still being computed: the cancel does not wait for it.
        await Assert.ThrowsAsync<TaskCancelledException>(() => dependent.DefaultTimeout());
        Assert.False(dependency.IsReady);
        File.WriteAllText(gate, "");
        Assert.Equal(1, await dependency.DefaultTimeout());
        Assert.Equal(4, await _cluster.Submit(() => TestTasks.Square(2)).DefaultTimeout());
        Assert.False(File.Exists(marks));
    }

    [Fact]
    public async Task CancelAsync_RunningTask_CancelsTheTokenItWasGiven()
    {
        var marks = Path.Combine(_scratch, "running");
        var running = _cluster.Submit(() => CancelTasks.UntilCancelled(marks, CancellationToken.None));
        await TestWaits.UntilAsync(() => File.Exists(marks), "the task to start");

        await _cluster.CancelAsync(running);

        await Assert.ThrowsAsync<TaskCancelledException>(() => running.DefaultTimeout());
        Assert.EndsWith("cancelled\n", File.ReadAllText(marks), StringComparison.Ordinal);
        Assert.Equal(4, await _cluster.Submit(() => TestTasks.Square(2)).DefaultTimeout());
    }

    [Fact]
    public async Task CancelAsync_WithForce_KillsAWorkerThatIgnoresItsToken_AndDoesNotRetry()
    {
        var marks = Path.Combine(_scratch, "forever");
        var stuck = _cluster.Submit(() => CancelTasks.Forever(marks, CancellationToken.None), new TaskOptions { MaxRetries = 3 });
        await TestWaits.UntilAsync(() => File.Exists(marks), "the task to start");
        var pid = int.Parse(File.ReadAllText(marks).Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);

        await _cluster.CancelAsync(stuck, force: true);

        await Assert.ThrowsAsync<TaskCancelledException>(() => stuck.DefaultTimeout());
        await TestWaits.UntilAsync(() => !Directory.Exists($"/proc/{pid}"), "the worker to be gone");
        Assert.Single(File.ReadAllLines(marks));
        Assert.Equal(9, await _cluster.Submit(() => TestTasks.Square(3)).DefaultTimeout());
    }

    [Fact]
    public async Task Timeout_TaskRunningPastIt_IsStoppedWithForce_AndNotRetried()
    {
        var marks = Path.Combine(_scratch, "timeout");

        var error = await Assert.ThrowsAsync<TaskCancelledException>(() => _cluster.Submit(
            () => CancelTasks.Forever(marks, CancellationToken.None), new TaskOptions { Timeout = TimeSpan.FromSeconds(1), MaxRetries = 3 }).DefaultTimeout());

        Assert.True(error.TimedOut);
        Assert.Contains("CancelTasks.Forever ran past its timeout of 1 s", error.Message, StringComparison.Ordinal);
        Assert.Single(File.ReadAllLines(marks));
        Assert.Equal(16, await _cluster.Submit(() => TestTasks.Square(4)).DefaultTimeout());
    }

    [Fact]
    public async Task Timeout_WithRetryExceptions_IsRetriedWithinMaxRetries()
    {
        var marks = Path.Combine(_scratch, "timeout-retried");

        var error = await Assert.ThrowsAsync<TaskCancelledException>(() => _cluster.Submit(
            () => CancelTasks.Forever(marks, CancellationToken.None),
            new TaskOptions { Timeout = TimeSpan.FromMilliseconds(500), MaxRetries = 1, RetryExceptions = true }).DefaultTimeout());

        Assert.True(error.TimedOut);
        Assert.Equal(2, File.ReadAllLines(marks).Length);
    }

    [Fact]
    public async Task CancelAsync_FinishedTask_LeavesItsValue()
    {
        var done = _cluster.Submit(() => TestTasks.Square(5));
        Assert.Equal(25, await done.DefaultTimeout());

        await _cluster.CancelAsync(done, force: true);

        Assert.Equal(25, await done.DefaultTimeout());
    }

    [Fact]
    public async Task CancelAsync_RunningActorCall_CancelsThatCallsToken_AndTheActorKeepsServing()
    {
        var marks = Path.Combine(_scratch, "actor");
        var waiter = _cluster.CreateActor(() => new Waiter());
        var running = waiter.Call(w => w.UntilCancelled(marks, CancellationToken.None));
        var behind = waiter.Call(w => w.Calls());
        await TestWaits.UntilAsync(() => File.Exists(marks), "the call to start");

        await _cluster.CancelAsync(running);

        await Assert.ThrowsAsync<TaskCancelledException>(() => running.DefaultTimeout());
        Assert.Equal(2, await behind.DefaultTimeout());
        Assert.EndsWith("cancelled\n", File.ReadAllText(marks), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CancelAsync_ActorCallWaitingBehindAnother_NeverRuns()
    {
        var marks = Path.Combine(_scratch, "actor-queued");
        var waiter = _cluster.CreateActor(() => new Waiter());
        var first = waiter.Call(w => w.UntilCancelled(marks, CancellationToken.None));
        var second = waiter.Call(w => w.Calls());
        await TestWaits.UntilAsync(() => File.Exists(marks), "the first call to start");

        await _cluster.CancelAsync(second);
        await _cluster.CancelAsync(first);

        await Assert.ThrowsAsync<TaskCancelledException>(() => second.DefaultTimeout());
        await Assert.ThrowsAsync<TaskCancelledException>(() => first.DefaultTimeout());
        Assert.Equal(2, await waiter.Call(w => w.Calls()).DefaultTimeout());
    }

    [Fact]
    public async Task CancelAsync_WithForceOnAnActorCall_IsArgumentException()
    {
        var call = _cluster.CreateActor(() => new Waiter()).Call(w => w.Calls());

        var error = await Assert.ThrowsAsync<ArgumentException>(() => _cluster.CancelAsync(call, force: true));

        Assert.Contains("call KillAsync on the actor", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Submit_TokenThatCanBeCancelledHere_IsArgumentException()
    {
        using var local = new CancellationTokenSource();

        var error = Assert.Throws<ArgumentException>(() => _cluster.Submit(() => CancelTasks.UntilCancelled("x", local.Token)));

        Assert.Contains("write CancellationToken.None", error.Message, StringComparison.Ordinal);
    }
}
