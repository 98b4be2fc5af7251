using Terrarium.Protocol;
using Terrarium.Sessions;

namespace Terrarium.Placement;

/// <summary>Work pinned to one node by a <see cref="NodeAffinityStrategy"/>.</summary>
internal sealed partial class NodeRouter
{
    /// <summary>
    /// The session of the node the affinity names, when it is live and could ever run the demand
    /// (the work waits there for it); else null for a soft affinity, which lets the work go where
    /// the default strategy puts it.
    /// </summary>
    /// <exception cref="ArgumentException">A hard affinity, and the node is not live or could never run the demand.</exception>
    private (Session Session, string NodeId)? PlaceOnNode(NodeAffinityStrategy affinity, ResourceRequest demand, string what, string paramName, IReadOnlySet<string>? avoid)
    {
        var node = LiveNode(affinity.NodeId);
        if (node is null && !affinity.Soft && _nodes.All.All(n => n.Node.NodeId != affinity.NodeId))
        {
            // Unheard of: it may have joined since the last refresh. Only the head can say, and a
            // hard affinity promises an ArgumentException now, so this answer is waited for (a
            // blocking call, as for a demand no known node could run; a soft one needs no answer).
            ListNodesNow();
            node = LiveNode(affinity.NodeId);
        }

        var why = node is null ? "is not a live node of the cluster"
            : avoid?.Contains(affinity.NodeId) == true ? "could not give a result it held"
            : !Fits(demand, node.Node.Resources) ? $"could never run it: it asks for {Wanted(demand)}, the node offers {Offered(node.Node.Resources)}"
            : null;
        // A refresh may find the node dead between the look and the session.
        if (why is null && OpenLiveSession(affinity.NodeId) is { } session)
        {
            return (session, affinity.NodeId);
        }

        return affinity.Soft ? null : throw new ArgumentException($"{what} must run on node {affinity.NodeId} (a hard node affinity), which {why ?? "is not a live node of the cluster"}", paramName);
    }

    private NodeState? LiveNode(string nodeId) => _nodes.Live.FirstOrDefault(n => n.Node.NodeId == nodeId);
}
