using Terrarium.Protocol;

namespace Terrarium.Head.State;

/// <summary>What an <see cref="IHeadStore"/> kept of a previous head: the state it restores from.</summary>
internal sealed record StoredHeadState(
    List<NodeInfo> Nodes,
    List<(string Id, RegisterJobRequest Job)> Jobs,
    List<(string Name, LookupActorReply Actor)> ActorNames,
    List<LookupActorReply> MovedActors)
{
    public static StoredHeadState Empty => new([], [], [], []);
}
