using ClusterWork;
using Microsoft.Extensions.Logging.Abstractions;

namespace Terrarium.IntegrationTests;

/// <summary>Actor lifetimes: a detached actor outlives its job on every node, until a driver kills it; the others end with their job.</summary>
public sealed class DetachedActorTests
{
    [Fact]
    public async Task ADetachedActor_OutlivesItsJob_OnItsDriversNodeAndAnother_UntilAnotherDriverKillsIt()
    {
        await using var cluster = await StandaloneCluster.StartAsync(sessionResumeGrace: TimeSpan.FromSeconds(1));
        await cluster.AddNodeAsync(new() { ["red"] = 2 }, NullLoggerFactory.Instance, numCpus: 0);
        var detached = new ActorOptions { Name = "keeper", Lifetime = ActorLifetime.Detached, Resources = { ["red"] = 1 } };
        string passingId;
        await using (var first = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout())
        {
            var keeper = first.CreateActor(() => new NodeCounter(), detached);
            var homebody = first.CreateActor(() => new NodeCounter(), new ActorOptions { Name = "homebody", Lifetime = ActorLifetime.Detached });
            var passing = first.CreateActor(() => new NodeCounter(), new ActorOptions { Name = "passing", Resources = { ["red"] = 1 } });
            Assert.Equal(5, await keeper.Call(c => c.Add(5)).DefaultTimeout());
            Assert.Equal(7, await homebody.Call(c => c.Add(7)).DefaultTimeout());
            Assert.Equal(1, await passing.Call(c => c.Add(1)).DefaultTimeout());
            passingId = passing.ActorId;
        }

        // The job is over: its ordinary actor on red ends (the head tells red), its detached ones live on with their state.
        await using var second = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout();
        await TestWaits.UntilAsync(async () => (await second.GetStatusAsync()).Nodes.SelectMany(n => n.Workers).All(w => w.ActorId != passingId),
            "the job's ordinary actor to end with its job");
        await Assert.ThrowsAsync<KeyNotFoundException>(() => second.GetActorAsync<NodeCounter>("passing")).DefaultTimeout();
        var found = await second.GetActorAsync<NodeCounter>("keeper").DefaultTimeout();
        Assert.Equal(6, await found.Call(c => c.Add(1)).DefaultTimeout());
        Assert.Equal(8, await (await second.GetActorAsync<NodeCounter>("homebody").DefaultTimeout()).Call(c => c.Add(1)).DefaultTimeout());

        // Until a driver kills it; then its name is free.
        await found.KillAsync().DefaultTimeout();
        await Assert.ThrowsAsync<KeyNotFoundException>(() => second.GetActorAsync<NodeCounter>("keeper")).DefaultTimeout();
        await Assert.ThrowsAsync<ActorDiedException>(() => found.Call(c => c.Add(1)).GetAsync()).DefaultTimeout();
        Assert.DoesNotContain((await second.GetStatusAsync().DefaultTimeout()).Nodes.SelectMany(n => n.Workers), w => w.ActorId == found.ActorId);
    }

    [Fact]
    public async Task ALifetimeThatIsNotOne_IsRefusedNamingTheOption()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 1, LogToDriver = false }).DefaultTimeout();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => cluster.CreateActor(() => new NodeCounter(), new ActorOptions { Lifetime = (ActorLifetime)7 }));

        Assert.Equal(nameof(ActorOptions.Lifetime), error.ParamName);
        Assert.Contains("must be Job or Detached", error.Message, StringComparison.Ordinal);
    }
}
