namespace Terrarium.IntegrationTests;

/// <summary>
/// Concurrency groups (<see cref="ConcurrencyGroupAttribute"/>): each group has turns of its own.
/// Proven by calls that can only return once another group's call has run beside them, and held to
/// each group's size by the most calls the actor saw inside a group at once — never by timing.
/// </summary>
public sealed class ConcurrencyGroupTests
{
    [Fact]
    public async Task AFullGroup_HoldsUpOnlyItsOwnCalls_AndRunsNoMoreThanItsSize()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 1, LogToDriver = false }).DefaultTimeout();
        var actor = cluster.CreateActor(() => new Switchboard());

        // Three calls for "io", which runs two: they wait until "control" opens the gate, once it
        // has seen two inside. Were "control" behind the full "io", nothing would return.
        var waiting = Enumerable.Range(0, 3).Select(_ => actor.Call(a => a.WaitForOpen())).ToList();

        Assert.Equal(2, await actor.Call(a => a.WhenInside(2)).DefaultTimeout());
        await actor.Call(a => a.Open()).DefaultTimeout();
        Assert.All(await cluster.GetAsync(waiting).DefaultTimeout(), most => Assert.InRange(most, 1, 2));
        Assert.Equal(2, await actor.Call(a => a.MostInIo()).DefaultTimeout());
    }

    [Fact]
    public async Task ACallNamingAnotherGroup_RunsThere()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 1, LogToDriver = false }).DefaultTimeout();
        var actor = cluster.CreateActor(() => new Switchboard());

        // Meet is in the default group, which runs one call at a time: two calls of it can only meet
        // when one of them runs in another group.
        var first = actor.Call(a => a.Meet());
        var second = actor.Call(a => a.Meet(), new ActorCallOptions { ConcurrencyGroup = "io" });

        Assert.Equal(2, await first.DefaultTimeout());
        Assert.Equal(2, await second.DefaultTimeout());
    }

    [Fact]
    public async Task TheDefaultGroup_StillRunsOneCallAtATime_InTheOrderMade()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 1, LogToDriver = false }).DefaultTimeout();
        var actor = cluster.CreateActor(() => new Switchboard());

        await cluster.GetAsync(Enumerable.Range(0, 20).Select(i => actor.Call(a => a.Enter(i))).ToList()).DefaultTimeout();

        Assert.Equal(Enumerable.Range(0, 20), await actor.Call(a => a.Entered()).DefaultTimeout());
        Assert.Equal(1, await actor.Call(a => a.MostInDefault()).DefaultTimeout());
    }

    [Fact]
    public async Task ACallWaitingForItsGroup_Cancelled_NeverRuns_AndTheOthersDo()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 1, LogToDriver = false }).DefaultTimeout();
        var actor = cluster.CreateActor(() => new Switchboard());
        var running = Enumerable.Range(0, 2).Select(_ => actor.Call(a => a.WaitForOpen())).ToList();
        var waiting = actor.Call(a => a.WaitForOpen());

        // Two fill "io"; the third waits for a turn there while it is cancelled.
        Assert.Equal(2, await actor.Call(a => a.WhenInside(2)).DefaultTimeout());
        await cluster.CancelAsync(waiting).DefaultTimeout();
        await actor.Call(a => a.Open()).DefaultTimeout();

        await cluster.GetAsync(running).DefaultTimeout();
        await Assert.ThrowsAsync<TaskCancelledException>(() => waiting.DefaultTimeout());
        Assert.Equal(2, await actor.Call(a => a.TimesWaited()).DefaultTimeout());
    }

    [Fact]
    public async Task ACallThroughAnInterface_RunsInTheGroupItsImplementationNames()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 1, LogToDriver = false }).DefaultTimeout();
        var actor = cluster.CreateActor(() => new Switchboard(), new ActorOptions { Name = "switchboard" });
        var throughInterface = await cluster.GetActorAsync<IMeeting>("switchboard").DefaultTimeout();

        // In the default group only one would be inside at once.
        var waiting = Enumerable.Range(0, 2).Select(_ => throughInterface.Call(a => a.WaitForOpen())).ToList();

        Assert.Equal(2, await actor.Call(a => a.WhenInside(2)).DefaultTimeout());
        await actor.Call(a => a.Open()).DefaultTimeout();
        await cluster.GetAsync(waiting).DefaultTimeout();
    }

    [Fact]
    public async Task AGroupTheClassLacks_IsRefused_HereForASealedHandle_ByTheWorkerOtherwise()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 1, LogToDriver = false }).DefaultTimeout();
        var actor = cluster.CreateActor(() => new Switchboard(), new ActorOptions { Name = "switchboard" });
        var throughInterface = await cluster.GetActorAsync<IMeeting>("switchboard").DefaultTimeout();
        var unknown = new ActorCallOptions { ConcurrencyGroup = "gpu" };

        var here = Assert.Throws<ArgumentException>(() => actor.Call(a => a.Meet(), unknown));
        var blank = Assert.Throws<ArgumentException>(() => actor.Call(a => a.Meet(), new ActorCallOptions { ConcurrencyGroup = " " }));
        var atTheWorker = await Assert.ThrowsAsync<InvalidOperationException>(() => throughInterface.Call(a => a.Meet(), unknown).GetAsync()).DefaultTimeout();

        Assert.Contains("has no concurrency group 'gpu'; its groups: default, io, control", here.Message, StringComparison.Ordinal);
        Assert.Contains("has no concurrency group 'gpu'; its groups: default, io, control", atTheWorker.Message, StringComparison.Ordinal);
        Assert.Contains("ConcurrencyGroup must not be blank", blank.Message, StringComparison.Ordinal);
        // The actor is unharmed.
        Assert.Equal(0, await actor.Call(a => a.Enter(0)).DefaultTimeout());

        // An actor without groups, which runs its calls one at a time, refuses it too.
        cluster.CreateActor(() => new MeetingAlone(), new ActorOptions { Name = "alone" });
        var alone = await cluster.GetActorAsync<IMeeting>("alone").DefaultTimeout();
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => alone.Call(a => a.Meet(), unknown).GetAsync()).DefaultTimeout();
        Assert.Contains("has no concurrency group 'gpu'; its groups: default", refused.Message, StringComparison.Ordinal);
        Assert.Equal(1, await alone.Call(a => a.Meet()).DefaultTimeout());
    }

    [Fact]
    public async Task AClassThatDeclaresItsGroupsWrongly_IsRefusedAtCreation_SayingWhat()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 1, LogToDriver = false }).DefaultTimeout();

        var unsized = Assert.Throws<ArgumentException>(() => cluster.CreateActor(() => new GroupWithoutSize()));
        var undeclared = Assert.Throws<ArgumentException>(() => cluster.CreateActor(() => new MethodInUndeclaredGroup()));

        Assert.Contains("declares concurrency group 'io' without its size", unsized.Message, StringComparison.Ordinal);
        Assert.Contains("MethodInUndeclaredGroup.Work: actor class", undeclared.Message, StringComparison.Ordinal);
        Assert.Contains("has no concurrency group 'gpu'; its groups: default", undeclared.Message, StringComparison.Ordinal);
    }
}

public interface IMeeting
{
    int Meet();

    int WaitForOpen();
}

/// <summary>An actor that declares no groups.</summary>
public sealed class MeetingAlone : IMeeting
{
    public int Meet() => 1;

    public int WaitForOpen() => 0;
}

/// <summary>An actor with two groups besides the default one: "io" runs two calls at once, "control" one.</summary>
[ConcurrencyGroup("io", 2)]
[ConcurrencyGroup("control", 1)]
public sealed class Switchboard : IMeeting
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);
    private readonly ManualResetEventSlim _gate = new();
    private readonly Barrier _meeting = new(2);
    private readonly Lock _lock = new();
    private readonly List<int> _entered = [];
    private int _inIo;
    private int _mostInIo;
    private int _timesWaited;
    private int _inDefault;
    private int _mostInDefault;

    /// <summary>Waits in group "io" until the gate opens; the most calls inside "io" at once so far.</summary>
    [ConcurrencyGroup("io")]
    public int WaitForOpen()
    {
        lock (_lock)
        {
            _timesWaited++;
            _mostInIo = Math.Max(_mostInIo, ++_inIo);
        }

        try
        {
            return _gate.Wait(Patience) ? MostInIo() : throw new TimeoutException("the gate never opened");
        }
        finally
        {
            lock (_lock)
            {
                _inIo--;
            }
        }
    }

    /// <summary>Returns once <paramref name="count"/> calls wait in "io".</summary>
    [ConcurrencyGroup("control")]
    public int WhenInside(int count) =>
        SpinWait.SpinUntil(() => InIo() == count, Patience) ? count : throw new TimeoutException($"{count} calls were never inside group io at once");

    [ConcurrencyGroup("control")]
    public bool Open()
    {
        _gate.Set();
        return true;
    }

    /// <summary>How many calls of <see cref="WaitForOpen"/> ever ran.</summary>
    public int TimesWaited()
    {
        lock (_lock)
        {
            return _timesWaited;
        }
    }

    public int MostInIo()
    {
        lock (_lock)
        {
            return _mostInIo;
        }
    }

    private int InIo()
    {
        lock (_lock)
        {
            return _inIo;
        }
    }

    /// <summary>In the default group: returns once two calls are inside at once.</summary>
    public int Meet() => _meeting.SignalAndWait(Patience) ? 2 : throw new TimeoutException("no second call came in to meet");

    /// <summary>In the default group: notes that call <paramref name="i"/> came in, and how many were inside at once.</summary>
    public int Enter(int i)
    {
        lock (_lock)
        {
            _entered.Add(i);
            _mostInDefault = Math.Max(_mostInDefault, ++_inDefault);
        }

        // Long enough that calls run together, were they let, would be seen inside together.
        Thread.Sleep(5);
        lock (_lock)
        {
            _inDefault--;
        }

        return i;
    }

    public int MostInDefault()
    {
        lock (_lock)
        {
            return _mostInDefault;
        }
    }

    public List<int> Entered()
    {
        lock (_lock)
        {
            return [.. _entered];
        }
    }
}

[ConcurrencyGroup("io")]
public sealed class GroupWithoutSize
{
    public int Work() => 1;
}

public sealed class MethodInUndeclaredGroup
{
    [ConcurrencyGroup("gpu")]
    public int Work() => 1;
}
