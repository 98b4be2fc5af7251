using ClusterWork;

namespace Terrarium.IntegrationTests;

/// <summary>
/// Scheduling strategies across three real nodes: SPREAD takes the nodes in turn, a node affinity
/// pins work to one node (hard: there or nowhere, even on retry; soft: there if it can).
/// </summary>
public sealed class SchedulingStrategyTests
{
    [Fact]
    public async Task Spread_TakesTheNodesInTurn()
    {
        await using var nodes = await CliCluster.StartAsync("{}", "{}", "{}");
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();
        // No CPUs: every node has the demand free whatever the head last heard, so the turn alone decides.
        var spread = new TaskOptions { NumCpus = 0, SchedulingStrategy = SchedulingStrategy.Spread };

        var where = await cluster.GetAsync(Enumerable.Range(0, 6).Select(_ => cluster.Submit(() => MultiNodeTasks.WhereAmI(), spread)).ToList()).DefaultTimeout();

        Assert.All(nodes.Daemons, d => Assert.Equal(2, where.Count(w => w == d.NodeId)));
    }

    [Fact]
    public async Task HardNodeAffinity_RunsEveryTaskAndActorOnThatNode_QueuedThereRatherThanElsewhere()
    {
        await using var nodes = await CliCluster.StartAsync("{}", "{}", "{}");
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();
        var target = nodes.Daemons[2].NodeId;
        var pinned = new TaskOptions { SchedulingStrategy = SchedulingStrategy.NodeAffinity(target) };

        // Four tasks for its one CPU: they wait their turn there, though two other nodes are idle.
        var where = await cluster.GetAsync(Enumerable.Range(0, 4).Select(_ => cluster.Submit(() => MultiNodeTasks.SleepThenWhere(100), pinned)).ToList()).DefaultTimeout();
        var actor = cluster.CreateActor(() => new NodeCounter(), new ActorOptions { SchedulingStrategy = SchedulingStrategy.NodeAffinity(target) });

        Assert.All(where, w => Assert.Equal(target, w));
        Assert.Equal(target, await actor.Call(c => c.Where()).DefaultTimeout());
        Assert.Equal(target, actor.NodeId);
    }

    [Fact]
    public async Task NodeAffinity_ToANodeThatCannotRunIt_IsRefusedWhenHard_AndRunsElsewhereWhenSoft()
    {
        await using var nodes = await CliCluster.StartAsync("""{"red": 1}""", "{}");
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();
        var plain = nodes.Daemons[1].NodeId;
        var needsRed = new Dictionary<string, double> { ["red"] = 1 };

        var unknown = Assert.Throws<ArgumentException>(() => cluster.Submit(() => MultiNodeTasks.WhereAmI(),
            new TaskOptions { SchedulingStrategy = SchedulingStrategy.NodeAffinity("node-nowhere") }));
        var lacking = Assert.Throws<ArgumentException>(() => cluster.CreateActor(() => new NodeCounter(),
            new ActorOptions { Resources = needsRed, SchedulingStrategy = SchedulingStrategy.NodeAffinity(plain) }));
        var softly = await cluster.Submit(() => MultiNodeTasks.WhereAmI(),
            new TaskOptions { Resources = needsRed, SchedulingStrategy = SchedulingStrategy.NodeAffinity(plain, soft: true) }).DefaultTimeout();

        Assert.Equal("options", unknown.ParamName);
        Assert.Contains("must run on node node-nowhere (a hard node affinity), which is not a live node of the cluster", unknown.Message, StringComparison.Ordinal);
        Assert.Contains($"must run on node {plain} (a hard node affinity), which could never run it: it asks for CPU=0, red=1, the node offers CPU=1", lacking.Message, StringComparison.Ordinal);
        Assert.Equal(nodes.Daemons[0].NodeId, softly);
        Assert.Throws<ArgumentException>(() => SchedulingStrategy.NodeAffinity(" "));
        var none = Assert.Throws<ArgumentNullException>(() => cluster.Submit(() => MultiNodeTasks.WhereAmI(), new TaskOptions { SchedulingStrategy = null! }));
        Assert.Equal(nameof(TaskOptions.SchedulingStrategy), none.ParamName);
    }

    [Fact]
    public async Task NodeKilled_ATaskWithHardAffinityToIt_FailsInsteadOfMoving_OneWithSoftAffinityMoves()
    {
        await using var nodes = await CliCluster.StartAsync("{}", "{}");
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();
        var doomed = nodes.Daemons[1];
        var hardMarker = Path.Combine(nodes.Scratch, "hard");
        var softMarker = Path.Combine(nodes.Scratch, "soft");
        var hard = cluster.Submit(() => MultiNodeTasks.HangUnlessRetried(hardMarker),
            new TaskOptions { NumCpus = 0.5, MaxRetries = 1, SchedulingStrategy = SchedulingStrategy.NodeAffinity(doomed.NodeId) });
        var soft = cluster.Submit(() => MultiNodeTasks.HangUnlessRetried(softMarker),
            new TaskOptions { NumCpus = 0.5, MaxRetries = 1, SchedulingStrategy = SchedulingStrategy.NodeAffinity(doomed.NodeId, soft: true) });
        await TestWaits.UntilAsync(() => File.Exists(hardMarker) && File.Exists(softMarker), "both tasks to run on the pinned node");

        doomed.Kill();

        Assert.Equal(nodes.Daemons[0].NodeId, await soft.DefaultTimeout());
        var lost = await Assert.ThrowsAsync<ObjectLostException>(() => hard.DefaultTimeout());
        Assert.Contains($"must run on node {doomed.NodeId} (a hard node affinity), which is not a live node of the cluster", lost.Message, StringComparison.Ordinal);
    }
}
