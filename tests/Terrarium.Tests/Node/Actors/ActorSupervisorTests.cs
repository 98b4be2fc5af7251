using Microsoft.Extensions.Logging.Abstractions;
using Terrarium.Node;
using Terrarium.Node.Actors;
using Terrarium.Node.Membership;
using Terrarium.Node.Objects;
using Terrarium.Node.Resources;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.Sessions;
using Terrarium.Protocol;
using Terrarium.Protocol.Security;
using Terrarium.Tests.Node.Workers;

namespace Terrarium.Tests.Node.Actors;

/// <summary>
/// The supervisor's decisions on a node of 2 CPUs: when an actor's worker starts, what a caller
/// locating it hears, how many times it comes back, and what a kill and a job's end leave. Workers
/// are records the test attaches and ends; a caller is a session whose events the test reads.
/// </summary>
public sealed class ActorSupervisorTests : IAsyncLifetime
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("terrarium-supervisor-");
    private readonly Session _driver = new("s1", new OpenSession { JobId = "job-a", JobCodeDir = "/" });
    private readonly RecordingStream<SessionBatch, SessionEvent> _driverEvents = new(b => b.Events);
    private readonly ObjectStore _objects = new();
    private readonly ResourceLedger _ledger = new(new Dictionary<string, double> { ["CPU"] = 2 });
    private readonly FakeWorkerStarter _starter = new();
    private readonly HeadLink _head;
    private readonly ActorSupervisor _supervisor;

    public ActorSupervisorTests()
    {
        var options = new NodeOptions { SessionDirectory = _root.FullName };
        // Never started: an embedded node has no head to free names at.
        _head = new HeadLink(options, ClusterCredentials.UnixOnly("token"), _ledger, NullLogger<HeadLink>.Instance);
        _supervisor = new ActorSupervisor(options, _objects, _ledger, _starter, new EnvBuildCache(options, [], NullLogger<EnvBuildCache>.Instance),
            _head, ClusterCredentials.UnixOnly("token"), NullLogger<ActorSupervisor>.Instance);
        _driver.Attach(_driverEvents, CancellationToken.None);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _supervisor.Dispose();
        await _head.DisposeAsync();
        _root.Delete(recursive: true);
    }

    [Fact]
    public async Task NewActor_ItsWorkerIsToldToConstructIt_AndACallerLocatingItHearsWhereItServes_OnceItHasStarted()
    {
        Create("a1", cpus: 1);
        var worker = await _starter.NextAsync();
        _supervisor.Locate(new LocateActor { ActorId = "a1" }, _driver);

        worker.Connect();
        _supervisor.OnAttached(worker.Process);
        var start = (await worker.NextCommandAsync()).StartActor;
        Assert.Equal("a1", start.ActorId);
        Assert.Equal("Counter", start.Constructor.Type);
        Assert.EndsWith("actor.sock", start.ListenAddress, StringComparison.Ordinal);
        _supervisor.OnActorStarted(worker.Process, new ActorStarted { ActorId = "a1", Address = start.ListenAddress });

        var location = await NextLocationAsync();
        Assert.Equal(start.ListenAddress, location.Address);
        Assert.Equal(1, location.Incarnation);
        Assert.Equal(1, _ledger.Snapshot()["CPU"]);
    }

    [Fact]
    public async Task CrashedActor_ComesBackOncePerRestart_ThenDies_NamingTheExit_AndGivesItsCpuBack()
    {
        Create("a1", cpus: 1, maxRestarts: 1);
        var first = await StartedAsync("a1");

        _supervisor.OnExited(first.Process, exitCode: 139);
        var second = await StartedAsync("a1");
        _supervisor.Locate(new LocateActor { ActorId = "a1", AfterIncarnation = 1 }, _driver);
        var restarted = await NextLocationAsync();
        Assert.Equal(2, restarted.Incarnation);
        Assert.Contains("exited with code 139", restarted.Ended.Message, StringComparison.Ordinal); // how incarnation 1 ended

        _supervisor.OnExited(second.Process, exitCode: 134);
        _supervisor.Locate(new LocateActor { ActorId = "a1", AfterIncarnation = 2 }, _driver);
        var dead = await NextLocationAsync();

        Assert.Equal(ErrorKind.ActorDied, dead.Death.Kind);
        Assert.Contains("exited with code 134", dead.Death.Message, StringComparison.Ordinal);
        Assert.Equal(0, _starter.Pending);
        Assert.Equal(2, _ledger.Snapshot()["CPU"]);
    }

    [Fact]
    public async Task KilledActor_ItsWorkerIsKilled_TheKillCompletesOnceItHasExited_AndItIsNotRestarted()
    {
        Create("a1", cpus: 2, maxRestarts: 5);
        var worker = await StartedAsync("a1");

        _supervisor.Kill(new KillActor { ActorId = "a1", KillId = "kill-2" }, _driver);
        Assert.True(worker.Process.KillRequested);
        Assert.False(_objects.Find("kill-2")!.IsCompleted);
        _supervisor.OnExited(worker.Process, exitCode: 137);

        await _objects.Find("kill-2")!.WaitAsync(TimeSpan.FromSeconds(30));
        _supervisor.Locate(new LocateActor { ActorId = "a1" }, _driver);
        var dead = await NextLocationAsync();
        Assert.Contains("was killed", dead.Death.Message, StringComparison.Ordinal);
        Assert.Equal(0, _starter.Pending);
        Assert.Equal(2, _ledger.Snapshot()["CPU"]);
    }

    [Fact]
    public async Task ActorWaitingForCpus_StartsOnceAnotherActorDiesAndFreesThem()
    {
        Create("a1", cpus: 2);
        var first = await StartedAsync("a1");
        Create("a2", cpus: 2);
        Assert.Equal(0, _starter.Pending);

        _supervisor.Kill(new KillActor { ActorId = "a1", KillId = "kill-1" }, _driver);
        _supervisor.OnExited(first.Process, exitCode: 137);

        var second = await _starter.NextAsync();
        Assert.Equal("a2", second.Process.ActorId);
    }

    [Fact]
    public async Task EndedJob_ItsActorsDie_AndACallerHearsWhy_AndTheirResourcesComeBackOnceTheirWorkersAreGone()
    {
        Create("a1", cpus: 1, maxRestarts: 3);
        var worker = await StartedAsync("a1");
        _supervisor.Locate(new LocateActor { ActorId = "a1", AfterIncarnation = 1 }, _driver);

        _supervisor.EndJob("job-a");
        Assert.True(worker.Process.KillRequested);

        var dead = await NextLocationAsync();
        Assert.Contains("ended with its job", dead.Death.Message, StringComparison.Ordinal);
        Assert.Equal(1, _ledger.Snapshot()["CPU"]);
        _supervisor.OnExited(worker.Process, exitCode: 137);
        Assert.Equal(2, _ledger.Snapshot()["CPU"]);
        Assert.Empty(_supervisor.All);
    }

    [Fact]
    public async Task EndedJob_ADetachedActorLivesOn_UntilKilled_ThenItsRecordGoes()
    {
        Create("a1", cpus: 1, detached: true);
        var worker = await StartedAsync("a1");

        _supervisor.EndJob("job-a");

        Assert.False(worker.Process.KillRequested);
        Assert.True(_supervisor.IsDetached("a1"));
        _supervisor.Kill(new KillActor { ActorId = "a1", KillId = "kill-1" }, _driver);
        Assert.True(worker.Process.KillRequested);
        _supervisor.OnExited(worker.Process, exitCode: 137);
        Assert.Equal(2, _ledger.Snapshot()["CPU"]);
        Assert.Empty(_supervisor.All);
    }

    [Fact]
    public async Task ConstructorThatThrows_TheActorDies_WithTheConstructorsError()
    {
        Create("a1", cpus: 1, maxRestarts: 3);
        var worker = await _starter.NextAsync();
        worker.Connect();
        _supervisor.OnAttached(worker.Process);
        await worker.NextCommandAsync();

        _supervisor.OnActorStarted(worker.Process, new ActorStarted { ActorId = "a1", Error = new TaskError { Message = "boom", RemoteType = "System.InvalidOperationException" } });
        _supervisor.Locate(new LocateActor { ActorId = "a1" }, _driver);

        var dead = await NextLocationAsync();
        Assert.Equal("actor Counter failed to start: boom", dead.Death.Message);
        Assert.Equal("System.InvalidOperationException", dead.Death.RemoteType);
        Assert.True(worker.Process.KillRequested);
    }

    [Fact]
    public async Task ANegativeMaxConcurrency_TheActorDiesSayingSo_AndNoWorkerStarts()
    {
        _supervisor.Create(new CreateActor
        {
            ActorId = "a1",
            Constructor = new FunctionDescriptor { Type = "Counter", Method = ".ctor" },
            Resources = new ResourceRequest { NumCpus = 1 },
            MaxConcurrency = -1,
        }, _driver);
        _supervisor.Locate(new LocateActor { ActorId = "a1" }, _driver);

        var dead = await NextLocationAsync();

        Assert.Equal("actor Counter: max_concurrency -1 must be 1 or more", dead.Death.Message);
        Assert.Equal(0, _starter.Pending);
    }

    [Fact]
    public async Task ALocateThatComesBeforeTheActorsCreation_IsAnsweredOnceItServes()
    {
        _supervisor.Locate(new LocateActor { ActorId = "a1" }, _driver);

        Create("a1", cpus: 1);
        var worker = await _starter.NextAsync();
        worker.Connect();
        _supervisor.OnAttached(worker.Process);
        await worker.NextCommandAsync();
        _supervisor.OnActorStarted(worker.Process, new ActorStarted { ActorId = "a1", Address = "unix:/tmp/a1.sock" });

        var located = await NextLocationAsync();
        Assert.Null(located.Death);
        Assert.Equal("unix:/tmp/a1.sock", located.Address);
    }

    [Fact]
    public async Task ALocateOfAnActorNeverCreatedHere_IsAnsweredNoSuchActor_AfterTheGrace()
    {
        _supervisor.Locate(new LocateActor { ActorId = "never" }, _driver);

        var dead = await NextLocationAsync();

        Assert.Equal("no actor with id never lives on this node", dead.Death.Message);
    }

    /// <summary>The next answer to a locate the driver's session carries (a kill's result travels on it too).</summary>
    private async Task<ActorLocation> NextLocationAsync()
    {
        while (true)
        {
            var next = await _driverEvents.NextAsync();
            if (next.KindCase == SessionEvent.KindOneofCase.ActorLocation)
            {
                return next.ActorLocation;
            }
        }
    }

    private void Create(string id, double cpus, int maxRestarts = 0, bool detached = false) =>
        _supervisor.Create(new CreateActor
        {
            ActorId = id,
            Constructor = new FunctionDescriptor { Type = "Counter", Method = ".ctor" },
            Resources = new ResourceRequest { NumCpus = cpus },
            MaxRestarts = maxRestarts,
            Detached = detached,
        }, _driver);

    /// <summary>The actor's next worker, attached and reporting the actor constructed.</summary>
    private async Task<FakeWorker> StartedAsync(string actorId)
    {
        var worker = await _starter.NextAsync();
        worker.Connect();
        _supervisor.OnAttached(worker.Process);
        var start = (await worker.NextCommandAsync()).StartActor;
        _supervisor.OnActorStarted(worker.Process, new ActorStarted { ActorId = actorId, Address = start.ListenAddress });
        return worker;
    }
}
