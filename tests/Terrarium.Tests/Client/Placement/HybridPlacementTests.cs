using Terrarium.Placement;
using Terrarium.Protocol;

namespace Terrarium.Tests.Client.Placement;

public sealed class HybridPlacementTests
{
    private static readonly HybridPlacement Policy = new();

    [Fact]
    public void LocalNode_LessThanHalfBusy_KeepsTheWork()
    {
        var local = Node("local", cpus: 4, freeCpus: 3);
        var idle = Node("idle", cpus: 4, freeCpus: 4);

        Assert.Same(local, Policy.Choose(Cpus(1), [local, idle], local));
    }

    [Fact]
    public void LocalNode_HalfBusy_SpreadsToTheLeastBusyNode()
    {
        var local = Node("local", cpus: 4, freeCpus: 2);
        var busy = Node("busy", cpus: 4, freeCpus: 1);
        var idle = Node("idle", cpus: 4, freeCpus: 4);

        Assert.Same(idle, Policy.Choose(Cpus(1), [local, busy, idle], local));
    }

    [Fact]
    public void ThisDriversOwnUnfinishedWork_CountsBeforeTheHeadHearsOfIt()
    {
        var local = Node("local", cpus: 2, freeCpus: 2) with { InFlightCpus = 1 };
        var other = Node("other", cpus: 2, freeCpus: 2);

        Assert.Same(other, Policy.Choose(Cpus(1), [local, other], local));
    }

    [Fact]
    public void CustomResource_GoesToTheOnlyNodeThatHasIt()
    {
        var local = Node("local", cpus: 4, freeCpus: 4);
        var gpu = Node("gpu", cpus: 1, freeCpus: 0, ("gpu", 1, 1));

        Assert.Same(gpu, Policy.Choose(Cpus(0, ("gpu", 1)), [local, gpu], local));
    }

    [Fact]
    public void NoNodeHasItFree_QueuesOnTheLeastBusyThatCouldRunIt()
    {
        var local = Node("local", cpus: 2, freeCpus: 0);
        var other = Node("other", cpus: 4, freeCpus: 1);
        var small = Node("small", cpus: 1, freeCpus: 1);

        Assert.Same(other, Policy.Choose(Cpus(2), [local, other, small], local));
    }

    [Fact]
    public void QueuedWork_SpreadsByHowMuchIsQueued()
    {
        var local = Node("local", cpus: 1, freeCpus: 0) with { InFlightCpus = 5 };
        var other = Node("other", cpus: 1, freeCpus: 0) with { InFlightCpus = 2 };

        Assert.Same(other, Policy.Choose(Cpus(1), [local, other], local));
    }

    [Fact]
    public void NoNodeCouldEverRunIt_IsNull()
    {
        var local = Node("local", cpus: 2, freeCpus: 2);

        Assert.Null(Policy.Choose(Cpus(1, ("gpu", 1)), [local], local));
        Assert.Null(Policy.Choose(Cpus(3), [local], local));
    }

    [Fact]
    public void NodeWithoutCpus_TakesOnlyWorkThatNeedsNone()
    {
        var head = Node("head", cpus: 0, freeCpus: 0);
        var worker = Node("worker", cpus: 2, freeCpus: 2);

        Assert.Same(worker, Policy.Choose(Cpus(1), [head, worker], head));
    }

    private static NodeView Node(string id, double cpus, double freeCpus, params (string Name, double Total, double Free)[] custom)
    {
        var total = custom.ToDictionary(c => c.Name, c => c.Total);
        total["CPU"] = cpus;
        var free = custom.ToDictionary(c => c.Name, c => c.Free);
        free["CPU"] = freeCpus;
        return new NodeView(id, id + ":1", total, free);
    }

    private static ResourceRequest Cpus(double cpus, params (string Name, double Amount)[] custom)
    {
        var request = new ResourceRequest { NumCpus = cpus };
        foreach (var (name, amount) in custom)
        {
            request.Custom[name] = amount;
        }

        return request;
    }
}
