namespace Terrarium;

/// <summary>
/// How a task or actor picks its node (Ray's <c>scheduling_strategy</c>), set on
/// <see cref="TaskOptions.SchedulingStrategy"/> or <see cref="ActorOptions.SchedulingStrategy"/>.
/// Whatever the strategy, the node must offer what the work asks for.
/// </summary>
public abstract class SchedulingStrategy
{
    private protected SchedulingStrategy()
    {
    }

    /// <summary>
    /// Ray's hybrid policy, the default: the driver's own node while it is less than half busy,
    /// then the least busy node that has the resources free.
    /// </summary>
    public static SchedulingStrategy Default { get; } = new Named("Default");

    /// <summary>Across the nodes in turn, to those that have the resources free first (Ray's <c>"SPREAD"</c>).</summary>
    public static SchedulingStrategy Spread { get; } = new Named("Spread");

    /// <summary>
    /// On one node, by id (<see cref="NodeSummary.NodeId"/>, <see cref="RuntimeContext.NodeId"/>).
    /// Hard (the default): the work runs there or nowhere — waiting there for resources, failing
    /// when the node is not live or could never run it. <paramref name="soft"/>: there if it could,
    /// else where the default strategy puts it (Ray's <c>NodeAffinitySchedulingStrategy</c>).
    /// </summary>
    /// <exception cref="ArgumentException">The node id is blank.</exception>
    public static NodeAffinityStrategy NodeAffinity(string nodeId, bool soft = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(nodeId);
        return new NodeAffinityStrategy(nodeId, soft);
    }

    private sealed class Named(string name) : SchedulingStrategy
    {
        public override string ToString() => name;
    }
}

/// <summary>Work pinned to one node (see <see cref="SchedulingStrategy.NodeAffinity"/>).</summary>
public sealed class NodeAffinityStrategy : SchedulingStrategy
{
    internal NodeAffinityStrategy(string nodeId, bool soft)
    {
        NodeId = nodeId;
        Soft = soft;
    }

    /// <summary>The node's id.</summary>
    public string NodeId { get; }

    /// <summary>Whether the work may run elsewhere when the node is not live or could never run it.</summary>
    public bool Soft { get; }

    /// <inheritdoc />
    public override string ToString() => $"NodeAffinity({NodeId}, {(Soft ? "soft" : "hard")})";
}
