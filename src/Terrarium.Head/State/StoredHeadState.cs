using Terrarium.Protocol;

namespace Terrarium.Head.State;

/// <summary>What an <see cref="IHeadStore"/> kept of a previous head: the state it restores from.</summary>
internal sealed record StoredHeadState(
    List<NodeInfo> Nodes,
    List<(string Id, RegisterJobRequest Job)> Jobs,
    List<(string Name, LookupActorReply Actor)> ActorNames,
    List<LookupActorReply> MovedActors)
{
    /// <summary>The packages each job uses, one pair per use.</summary>
    public List<(string JobId, string Hash)> JobPackages { get; init; } = [];

    /// <summary>Submitted jobs.</summary>
    public List<JobSubmission> Submissions { get; init; } = [];

    /// <summary>What the store kept of each submitted job's output, by submission id.</summary>
    public Dictionary<string, byte[]> JobLogs { get; init; } = [];

    public static StoredHeadState Empty => new([], [], [], []);
}
