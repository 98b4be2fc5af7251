using Terrarium.Protocol;

namespace Terrarium.Placement;

/// <summary>
/// Ray's hybrid policy: keep work on the local node (no data moves, workers are warm) while it is
/// less than half busy and has the demand free; past that, spread to the least busy node that has
/// it free; when no node has it free, queue on the least busy node that could ever run it.
/// </summary>
internal sealed class HybridPlacement : IPlacementPolicy
{
    /// <summary>The local node's utilization below which work stays local.</summary>
    public const double SpreadThreshold = 0.5;

    public NodeView? Choose(ResourceRequest demand, IReadOnlyList<NodeView> nodes, NodeView? local)
    {
        if (local is not null && local.CanEverFit(demand) && local.Utilization < SpreadThreshold && local.HasFree(demand))
        {
            return local;
        }

        NodeView? best = null;
        var bestHasFree = false;
        foreach (var node in nodes)
        {
            if (!node.CanEverFit(demand))
            {
                continue;
            }

            var hasFree = node.HasFree(demand);
            if (best is null || (hasFree && !bestHasFree) ||
                (hasFree == bestHasFree && (node.Utilization < best.Utilization || (node.Utilization == best.Utilization && node == local))))
            {
                (best, bestHasFree) = (node, hasFree);
            }
        }

        return best;
    }
}
