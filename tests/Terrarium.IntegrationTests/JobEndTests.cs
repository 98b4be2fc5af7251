using System.Diagnostics;
using ClusterWork;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Terrarium.IntegrationTests;

/// <summary>A job's end ends its work for good, and a killed actor's name is free when KillAsync returns.</summary>
public sealed class JobEndTests : IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("terrarium-job-end-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public async Task DriverGoneWithoutEndingItsJob_ItsTasksNeverRunAgain_AndTheirCpuComesBack()
    {
        await using var cluster = await StandaloneCluster.StartAsync(sessionResumeGrace: TimeSpan.FromSeconds(2));
        var marks = Path.Combine(_scratch, "marks");
        var start = new ProcessStartInfo(Terrarium.Node.WorkerHostCommand.CurrentDotnet(),
            [Path.Combine(AppContext.BaseDirectory, "SecondDriver.dll"), cluster.DriverOptions.Address!, StandaloneCluster.Token, "--abandon", "2", marks])
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.Environment["TERRARIUM_CA_HASH"] = cluster.DriverOptions.CaHash;
        using (var gone = Process.Start(start)!)
        {
            Assert.Equal("submitted", await gone.StandardOutput.ReadLineAsync().DefaultTimeout());
            gone.Kill();
        }

        // The node's one CPU is the dead job's until its session's grace ends; then it is this one's,
        // for good: the dead job's task neither runs again nor lets its queued sibling start.
        await using var next = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout();
        Assert.Equal(4, await next.Submit(() => TestTasks.Square(2)).DefaultTimeout());
        Assert.Equal(9, await next.Submit(() => TestTasks.Square(3)).DefaultTimeout());

        Assert.Single(File.ReadAllLines(marks));
    }

    [Fact]
    public async Task AWorkersSessionWithAnotherNode_EndingWhenTheWorkerGoes_DoesNotEndItsJobThere()
    {
        await using var cluster = await StandaloneCluster.StartAsync(sessionResumeGrace: TimeSpan.FromSeconds(1), idleWorkerTimeout: TimeSpan.FromSeconds(1));
        using var redLogs = new FakeLoggerProvider();
        using var redLoggers = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Debug).AddProvider(redLogs));
        await cluster.AddNodeAsync(new() { ["red"] = 2 }, redLoggers);
        await using var driver = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout();
        var counter = driver.CreateActor(() => new NodeCounter(), new ActorOptions { NumCpus = 0, Resources = { ["red"] = 1 } });
        Assert.Equal(1, await counter.Call(c => c.Add(1)).DefaultTimeout());

        // A task on the first node submits to red: its worker opens a session of its own there.
        var pid = await driver.Submit(() => MultiNodeTasks.NestedThenPid("red")).DefaultTimeout();

        // Idle, the worker is reaped; red closes its session once the grace is over. The job's
        // driver is alive, and so must be its actor on red.
        await TestWaits.UntilAsync(() => Task.FromResult(TestProcesses.HasExited(pid)), "the submitting worker to be reaped");
        await TestWaits.UntilAsync(() => Task.FromResult(ClosedSessions(redLogs) >= 1), "red to close the worker's session");
        Assert.Equal(2, await counter.Call(c => c.Add(1)).DefaultTimeout());
    }

    [Fact]
    public async Task AnActorThatATaskCreatedOnAnotherNode_EndsWithItsJob_ThoughTheDriverNeverTalkedToThatNode()
    {
        await using var cluster = await StandaloneCluster.StartAsync(sessionResumeGrace: TimeSpan.FromSeconds(1));
        // No CPU on red: the task runs on the first node, and only its worker opens a session to red.
        await cluster.AddNodeAsync(new() { ["red"] = 1 }, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, numCpus: 0);
        await using var observer = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout();
        string actorId;
        await using (var driver = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout())
        {
            actorId = await driver.Submit(() => MultiNodeTasks.CreateCounterNeeding("red")).DefaultTimeout();
            Assert.Contains((await observer.GetStatusAsync().DefaultTimeout()).Nodes.SelectMany(n => n.Workers), w => w.ActorId == actorId);
        }

        // The head tells every node the job ended: red ends the actor, which only a worker's session brought there.
        await TestWaits.UntilAsync(async () => (await observer.GetStatusAsync()).Nodes.SelectMany(n => n.Workers).All(w => w.ActorId != actorId),
            "the job's actor on red to end with its job");
    }

    private static int ClosedSessions(FakeLoggerProvider logs) =>
        logs.Collector.GetSnapshot().Count(r => r.Message.StartsWith("Session ", StringComparison.Ordinal) && r.Message.EndsWith(" closed", StringComparison.Ordinal));

    [Fact]
    public async Task KilledNamedActor_ItsNameIsFreeWhenKillAsyncReturns_RoundAfterRound()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 1, LogToDriver = false }).DefaultTimeout();

        // A race (the name's release against KillAsync's return) a single round rarely loses: many rounds,
        // each asking the head at once — the quickest a driver can — before creating the next.
        for (var round = 0; round < 100; round++)
        {
            var actor = cluster.CreateActor(() => new NodeCounter(), new ActorOptions { Name = "reuse", NumCpus = 0 });
            Assert.Equal(round, await actor.Call(c => c.Add(round)).DefaultTimeout());
            await actor.KillAsync().DefaultTimeout();
            await Assert.ThrowsAsync<KeyNotFoundException>(() => cluster.GetActorAsync<NodeCounter>("reuse"));
        }
    }
}
