namespace Terrarium.IntegrationTests;

/// <summary>
/// Actors that run calls concurrently (<see cref="ActorOptions.MaxConcurrency"/>), proven by calls
/// that can only return once a group of them is inside the actor at the same time (a barrier), and
/// held to their limit by the most calls the actor ever saw inside at once — never by timing.
/// </summary>
public sealed class ConcurrentActorTests
{
    [Fact]
    public async Task SynchronousCalls_RunOnUpToMaxConcurrencyThreads_NeverMore()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 1, LogToDriver = false }).DefaultTimeout();
        var actor = cluster.CreateActor(() => new MeetingPoint(3), new ActorOptions { MaxConcurrency = 3 });

        var most = await cluster.GetAsync(Enumerable.Range(0, 9).Select(_ => actor.Call(a => a.Meet())).ToList()).DefaultTimeout();

        Assert.All(most, m => Assert.InRange(m, 1, 3));
        Assert.Equal(3, await actor.Call(a => a.MostInside()).DefaultTimeout());
    }

    [Fact]
    public async Task AsyncCalls_InterleaveAtTheirAwaits_UpToMaxConcurrency()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 1, LogToDriver = false }).DefaultTimeout();
        var actor = cluster.CreateActor(() => new MeetingPoint(4), new ActorOptions { MaxConcurrency = 4 });

        await cluster.GetAsync(Enumerable.Range(0, 8).Select(_ => actor.Call(a => a.MeetAsync())).ToList()).DefaultTimeout();

        Assert.Equal(4, await actor.Call(a => a.MostInside()).DefaultTimeout());
    }

    [Fact]
    public async Task ByDefault_CallsRunOneAtATime_InTheOrderMade()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 1, LogToDriver = false }).DefaultTimeout();
        var actor = cluster.CreateActor(() => new MeetingPoint(1));

        await cluster.GetAsync(Enumerable.Range(0, 20).Select(i => actor.Call(a => a.Enter(i))).ToList()).DefaultTimeout();

        Assert.Equal(Enumerable.Range(0, 20), await actor.Call(a => a.Entered()).DefaultTimeout());
        Assert.Equal(1, await actor.Call(a => a.MostInside()).DefaultTimeout());
    }

    [Fact]
    public async Task MaxConcurrencyBelowOne_IsRefusedNamingTheOption()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 1, LogToDriver = false }).DefaultTimeout();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => cluster.CreateActor(() => new MeetingPoint(1), new ActorOptions { MaxConcurrency = 0 }));

        Assert.Equal(nameof(ActorOptions.MaxConcurrency), error.ParamName);
        Assert.Contains("must be 1 or more", error.Message, StringComparison.Ordinal);
    }
}

/// <summary>An actor whose calls meet in groups: each waits until <paramref name="groupSize"/> calls are inside it at once.</summary>
public sealed class MeetingPoint(int groupSize)
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);
    private readonly Barrier _barrier = new(groupSize);
    private readonly Lock _gate = new();
    private List<TaskCompletionSource> _waiting = [];
    private readonly List<int> _entered = [];
    private int _inside;
    private int _mostInside;

    /// <summary>Blocks its thread until the group is inside; the most calls inside at once so far.</summary>
    public int Meet()
    {
        Arrive();
        try
        {
            if (!_barrier.SignalAndWait(Patience))
            {
                throw new TimeoutException($"only some of a group of {groupSize} calls were ever inside at once");
            }

            return Volatile.Read(ref _mostInside);
        }
        finally
        {
            Interlocked.Decrement(ref _inside);
        }
    }

    /// <summary>Awaits, without holding a thread, until the group is inside; the most calls inside at once so far.</summary>
    public async Task<int> MeetAsync()
    {
        Arrive();
        TaskCompletionSource mine = new(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _waiting.Add(mine);
            if (_waiting.Count == groupSize)
            {
                _waiting.ForEach(w => w.SetResult());
                _waiting = [];
            }
        }

        try
        {
            await mine.Task.WaitAsync(Patience);
            return Volatile.Read(ref _mostInside);
        }
        finally
        {
            Interlocked.Decrement(ref _inside);
        }
    }

    /// <summary>Notes that call <paramref name="i"/> came in; returns it.</summary>
    public int Enter(int i)
    {
        Arrive();
        lock (_gate)
        {
            _entered.Add(i);
        }

        // Long enough that calls run together, were they let, would be seen inside together.
        Thread.Sleep(20);
        Interlocked.Decrement(ref _inside);
        return i;
    }

    /// <summary>The calls to <see cref="Enter"/>, in the order they came in.</summary>
    public List<int> Entered()
    {
        lock (_gate)
        {
            return [.. _entered];
        }
    }

    public int MostInside() => Volatile.Read(ref _mostInside);

    private void Arrive()
    {
        var inside = Interlocked.Increment(ref _inside);
        lock (_gate)
        {
            _mostInside = Math.Max(_mostInside, inside);
        }
    }
}
