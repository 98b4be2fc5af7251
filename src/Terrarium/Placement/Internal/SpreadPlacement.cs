using Terrarium.Protocol;

namespace Terrarium.Placement;

/// <summary>
/// Ray's spread policy: from the node after the last one chosen, in a fixed order, the first that
/// has the demand free; when none has, the first that could ever run it (the work queues there).
/// </summary>
internal sealed class SpreadPlacement : IPlacementPolicy
{
    private readonly Lock _lock = new();
    private string _last = "";

    public NodeView? Choose(ResourceRequest demand, IReadOnlyList<NodeView> nodes, NodeView? local)
    {
        var feasible = nodes.Where(n => n.CanEverFit(demand)).OrderBy(n => n.NodeId, StringComparer.Ordinal).ToList();
        if (feasible.Count == 0)
        {
            return null;
        }

        lock (_lock)
        {
            // Nodes come and go: the turn goes on from where the last one chosen is, or would be.
            var start = feasible.FindIndex(n => string.CompareOrdinal(n.NodeId, _last) > 0);
            var inTurn = feasible.Skip(Math.Max(0, start)).Concat(feasible.Take(Math.Max(0, start))).ToList();
            var chosen = inTurn.FirstOrDefault(n => n.HasFree(demand)) ?? inTurn[0];
            _last = chosen.NodeId;
            return chosen;
        }
    }
}
