namespace Terrarium.IntegrationTests;

/// <summary>
/// Load that exhausted per-user limits or starved the node: alone (no other test runs beside it),
/// since it fills the machine.
/// </summary>
[Collection(Name)]
public sealed class ManyActorsTests
{
    public const string Name = "alone";

    [Fact]
    public async Task OneHundredFiftyActors_AllStartAndAnswer_OnTwoCores()
    {
        // Each actor's worker used to hold an inotify instance (128 per user by default), and 150
        // .NET processes starting at once on 2 cores once starved the driver's connection to its node.
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 2, LogToDriver = false }).DefaultTimeout();
        var actors = Enumerable.Range(0, 150).Select(i => cluster.CreateActor(() => new Counter(i))).ToList();

        var values = await Task.WhenAll(actors.Select(a => a.Call(c => c.Increment(1)).GetAsync())).WaitAsync(TimeSpan.FromMinutes(6));
        var pids = await Task.WhenAll(actors.Select(a => a.Call(c => c.Pid()).GetAsync())).DefaultTimeout();

        Assert.Equal(Enumerable.Range(1, 150), values);
        Assert.Equal(150, pids.Distinct().Count());
        Assert.Equal(25, await cluster.Submit(() => TestTasks.Square(5)).DefaultTimeout());
    }
}

[CollectionDefinition(ManyActorsTests.Name, DisableParallelization = true)]
public sealed class AloneCollection;
