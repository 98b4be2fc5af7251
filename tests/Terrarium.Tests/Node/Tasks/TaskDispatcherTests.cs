using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Terrarium.Node;
using Terrarium.Node.Objects;
using Terrarium.Node.Resources;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.Sessions;
using Terrarium.Node.Tasks;
using Terrarium.Node.Workers;
using Terrarium.Protocol;
using Terrarium.Tests.Node.Workers;

namespace Terrarium.Tests.Node.Tasks;

/// <summary>
/// The dispatcher's decisions on a node of 2 CPUs, behind its seams: workers are records that a fake
/// starter hands out and the test attaches, finishes and ends; what the dispatcher sends them is
/// recorded; the clock is fake. The same behaviours run with real processes in the integration tests.
/// </summary>
public sealed class TaskDispatcherTests : IDisposable
{
    private static readonly Session JobA = new("s1", new OpenSession { JobId = "job-a", JobCodeDir = "/" });
    private readonly FakeTimeProvider _clock = new();
    private readonly ObjectStore _objects = new();
    private readonly ResourceLedger _ledger = new(new Dictionary<string, double> { ["CPU"] = 2 });
    private readonly FakeWorkerStarter _starter = new();
    private readonly TaskDispatcher _dispatcher;

    public TaskDispatcherTests()
    {
        var options = new NodeOptions { TimeProvider = _clock, IdleWorkerTimeout = TimeSpan.FromSeconds(30) };
        _dispatcher = new TaskDispatcher(options, _objects, _ledger, _starter,
            new EnvBuildCache(options, [], NullLogger<EnvBuildCache>.Instance), NullLogger<TaskDispatcher>.Instance);
    }

    public void Dispose() => _dispatcher.Dispose();

    [Fact]
    public async Task MoreTasksThanCpus_StartOneWorkerPerCpu_AndTheRestAreSentAheadOnceTheyAttach()
    {
        Submit("t1");
        Submit("t2");
        Submit("t3");
        Submit("t4");

        var first = await _starter.NextAsync();
        var second = await _starter.NextAsync();
        Assert.Equal(0, _ledger.Snapshot()["CPU"]);
        Assert.Equal(0, _starter.Pending);
        Attach(first);
        Attach(second);

        // Nothing is sent to a worker before it attaches; then its own task and one sent ahead.
        Assert.Equal(["t1", "t3"], await first.ExecutedAsync(2));
        Assert.Equal(["t2", "t4"], await second.ExecutedAsync(2));
    }

    [Fact]
    public async Task FinishedTask_ItsWorkerTakesTheNext_AndItsResultIsTheWorkersValue()
    {
        Submit("t1");
        var worker = await _starter.NextAsync();
        Attach(worker);
        await worker.ExecutedAsync(1);

        Done(worker, "t1", "one");
        Submit("t2");

        Assert.Equal("one", (await Result("t1")).Value!.ToStringUtf8());
        Assert.Equal(["t2"], await worker.ExecutedAsync(1));
        Assert.Equal(0, _starter.Pending);
    }

    [Fact]
    public async Task ForcedCancel_OfARunningTask_KillsItsWorker_WhoseExitEndsItCancelled_AndReturnsItsCpu()
    {
        Submit("t1", maxRetries: 3);
        var worker = await _starter.NextAsync();
        Attach(worker);
        await worker.ExecutedAsync(1);

        _dispatcher.Cancel("t1", force: true, "job-a");
        Assert.True(worker.Process.KillRequested);
        _dispatcher.OnExited(worker.Process, exitCode: 137);

        var error = (await Result("t1")).Error!;
        Assert.Equal(ErrorKind.Cancelled, error.Kind);
        Assert.Equal(0, _starter.Pending); // a kill to cancel is never a crash to retry
        Assert.Equal(2, _ledger.Snapshot()["CPU"]);
    }

    [Fact]
    public async Task ForcedCancel_OfTasksSentAhead_EndsEach_KillsTheWorkerOnlyWhenOneReachesTheFront_AndTheOthersRunElsewhere()
    {
        Submit("t1", cpus: 2);
        Submit("t2", cpus: 2);
        Submit("t3", cpus: 2);
        var worker = await _starter.NextAsync();
        Attach(worker);
        Assert.Equal(["t1", "t2", "t3"], await worker.ExecutedAsync(3));

        _dispatcher.Cancel("t2", force: true, "job-a");
        Assert.False(worker.Process.KillRequested); // t1 runs on, unharmed
        Assert.Equal("t2", (await worker.NextCommandAsync()).Cancel.WorkId);

        // t1 ends before the worker has read the cancel: t2 must not start, so the worker goes.
        Done(worker, "t1", "one");
        Assert.True(worker.Process.KillRequested);
        _dispatcher.OnExited(worker.Process, exitCode: 137);

        Assert.Equal(ErrorKind.Cancelled, (await Result("t2")).Error!.Kind);
        var next = await _starter.NextAsync();
        Attach(next);
        Assert.Equal(["t3"], await next.ExecutedAsync(1));
        Assert.Equal(0, _ledger.Snapshot()["CPU"]);
    }

    [Fact]
    public async Task Cancel_OfAQueuedTask_FailsItAtOnce_AndItNeverStarts()
    {
        Submit("t1", cpus: 2);
        Submit("t2", cpus: 1);
        var worker = await _starter.NextAsync();

        _dispatcher.Cancel("t2", force: false, "job-a");
        Attach(worker);
        Done(worker, "t1", "one");

        Assert.Equal(ErrorKind.Cancelled, (await Result("t2")).Error!.Kind);
        Assert.Equal(["t1"], await worker.ExecutedAsync(1));
        Assert.Equal(0, _starter.Pending);
        Assert.Equal(0, _dispatcher.QueuedCount);
    }

    [Fact]
    public async Task Cancel_FromAnotherJob_IsIgnored()
    {
        Submit("t1");
        var worker = await _starter.NextAsync();
        Attach(worker);
        await worker.ExecutedAsync(1);

        _dispatcher.Cancel("t1", force: true, "job-b");

        Assert.False(worker.Process.KillRequested);
        Done(worker, "t1", "one");
        Assert.Equal("one", (await Result("t1")).Value!.ToStringUtf8());
    }

    [Fact]
    public async Task CrashedWorker_ItsTaskRunsAgainOnANewOne_UntilItsRetriesAreSpent()
    {
        Submit("t1", maxRetries: 1);
        var first = await _starter.NextAsync();
        Attach(first);
        await first.ExecutedAsync(1);

        _dispatcher.OnExited(first.Process, exitCode: 139);
        var second = await _starter.NextAsync();
        Attach(second);
        Assert.Equal(["t1"], await second.ExecutedAsync(1));
        _dispatcher.OnExited(second.Process, exitCode: 139);

        var error = (await Result("t1")).Error!;
        Assert.Equal(ErrorKind.WorkerCrashed, error.Kind);
        Assert.Equal(139, error.ExitCode);
        Assert.Contains("after 1 retries", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, _starter.Pending);
        Assert.Equal(2, _ledger.Snapshot()["CPU"]);
    }

    [Fact]
    public async Task EndedJob_ItsWorkersAreKilled_AndNothingOfItRunsAgain()
    {
        Submit("t1", maxRetries: 3);
        Submit("t2", maxRetries: 3);
        Submit("t3", cpus: 2, maxRetries: 3);
        var first = await _starter.NextAsync();
        var second = await _starter.NextAsync();
        Attach(first);
        Attach(second);

        _dispatcher.EndJob("job-a");
        Assert.True(first.Process.KillRequested);
        Assert.True(second.Process.KillRequested);
        _dispatcher.OnExited(first.Process, exitCode: 137);
        _dispatcher.OnExited(second.Process, exitCode: 137);

        foreach (var id in new[] { "t1", "t2" })
        {
            var error = (await Result(id)).Error!;
            Assert.Equal(ErrorKind.Cancelled, error.Kind);
            Assert.Contains("its job ended", error.Message, StringComparison.Ordinal);
        }

        Assert.Equal(0, _starter.Pending);
        Assert.Equal(0, _dispatcher.QueuedCount);
        Assert.Equal(2, _ledger.Snapshot()["CPU"]);
    }

    [Fact]
    public async Task RunningTaskPastItsTimeout_ItsWorkerIsKilled_AndTheTaskEndsTimedOut()
    {
        Submit("t1", timeout: TimeSpan.FromSeconds(2));
        var worker = await _starter.NextAsync();
        Attach(worker);
        await worker.ExecutedAsync(1);

        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.False(worker.Process.KillRequested);
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.True(worker.Process.KillRequested);
        _dispatcher.OnExited(worker.Process, exitCode: 137);

        var error = (await Result("t1")).Error!;
        Assert.Equal(ErrorKind.Cancelled, error.Kind);
        Assert.True(error.TimedOut);
    }

    [Fact]
    public async Task IdleWorker_IsShutDown_OnceIdlePastTheTimeout()
    {
        Submit("t1");
        var worker = await _starter.NextAsync();
        Attach(worker);
        await worker.ExecutedAsync(1);
        Done(worker, "t1", "one");

        _clock.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(WorkerState.Idle, worker.Process.State);
        _clock.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(WorkerState.Dead, worker.Process.State);
        await worker.Commands!.Completion; // shut down: its command stream ended
    }

    private void Submit(string id, double cpus = 1, int maxRetries = 0, TimeSpan? timeout = null)
    {
        var spec = new SubmitTask
        {
            WorkId = id,
            Function = new FunctionDescriptor { Type = "Tests.Work", Method = "Run" },
            Resources = new ResourceRequest { NumCpus = cpus },
            MaxRetries = maxRetries,
            TimeoutMs = (long)(timeout?.TotalMilliseconds ?? 0),
        };
        Assert.True(_objects.TryCreate(id, JobA));
        _dispatcher.Submit(spec, JobA);
    }

    private void Attach(FakeWorker worker)
    {
        worker.Connect();
        _dispatcher.OnAttached(worker.Process);
    }

    private void Done(FakeWorker worker, string id, string value) =>
        _dispatcher.OnDone(worker.Process, new WorkDone { WorkId = id, Value = ByteString.CopyFromUtf8(value) });

    private Task<ObjectResult> Result(string id) => _objects.Find(id)!.WaitAsync(TimeSpan.FromSeconds(30));
}
