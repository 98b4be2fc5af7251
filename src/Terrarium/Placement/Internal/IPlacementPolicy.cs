using Terrarium.Protocol;

namespace Terrarium.Placement;

/// <summary>Chooses the node a task or actor goes to. The one place placement decisions are made.</summary>
internal interface IPlacementPolicy
{
    /// <summary>
    /// The node for <paramref name="demand"/> among <paramref name="nodes"/> (all live), or null when
    /// none could ever run it. <paramref name="local"/> is this process's own node, when it is live.
    /// </summary>
    NodeView? Choose(ResourceRequest demand, IReadOnlyList<NodeView> nodes, NodeView? local);
}
