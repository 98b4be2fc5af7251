using Terrarium.Placement;
using Terrarium.Protocol;

namespace Terrarium.Tests.Client.Placement;

/// <summary>Ray's spread policy: the nodes in turn, the first with the demand free, else the next that could ever run it.</summary>
public sealed class SpreadPlacementTests
{
    [Fact]
    public void NodesWithTheDemandFree_AreTakenInTurn_InNodeIdOrder()
    {
        var policy = new SpreadPlacement();
        NodeView[] nodes = [Node("c", freeCpus: 4), Node("a", freeCpus: 4), Node("b", freeCpus: 4)];

        var chosen = Enumerable.Range(0, 5).Select(_ => policy.Choose(Cpus(1), nodes, nodes[0])!.NodeId).ToList();

        Assert.Equal(["a", "b", "c", "a", "b"], chosen);
    }

    [Fact]
    public void ANodeWithoutTheDemandFree_IsSkipped_AndWhenNoneHasIt_TheTurnGoesOn()
    {
        var policy = new SpreadPlacement();
        NodeView[] someBusy = [Node("a", freeCpus: 0), Node("b", freeCpus: 0), Node("c", freeCpus: 1)];
        NodeView[] allBusy = [Node("a", freeCpus: 0), Node("b", freeCpus: 0), Node("c", freeCpus: 0)];

        Assert.Equal("c", policy.Choose(Cpus(1), someBusy, null)!.NodeId);
        Assert.Equal("a", policy.Choose(Cpus(1), allBusy, null)!.NodeId);
        Assert.Equal("b", policy.Choose(Cpus(1), allBusy, null)!.NodeId);
    }

    [Fact]
    public void NodesThatCouldNeverRunIt_AreNeverChosen_AndNoneLeftIsNull()
    {
        var policy = new SpreadPlacement();
        NodeView[] nodes = [Node("a", freeCpus: 4), Node("b", freeCpus: 4, gpus: 1)];
        var gpu = Cpus(1);
        gpu.Custom["gpu"] = 1;

        Assert.Equal("b", policy.Choose(gpu, nodes, null)!.NodeId);
        Assert.Equal("b", policy.Choose(gpu, nodes, null)!.NodeId);
        Assert.Null(policy.Choose(Cpus(8), nodes, null));
    }

    private static ResourceRequest Cpus(double cpus) => new() { NumCpus = cpus };

    private static NodeView Node(string id, double freeCpus, double gpus = 0)
    {
        var total = new Dictionary<string, double> { ["CPU"] = 4 };
        var free = new Dictionary<string, double> { ["CPU"] = freeCpus };
        if (gpus > 0)
        {
            total["gpu"] = free["gpu"] = gpus;
        }

        return new NodeView(id, id + ":1", total, free);
    }
}
