using Terrarium.Protocol;

namespace Terrarium.Head.State;

/// <summary>Where the head's state outlives the head: Redis, or nowhere (<see cref="MemoryOnly"/>).</summary>
internal interface IHeadStore : IAsyncDisposable
{
    Task<StoredHeadState> LoadAsync();

    Task SaveNodeAsync(NodeInfo node);

    /// <summary>Forgets nodes dead for longer than the head keeps them.</summary>
    Task RemoveNodesAsync(IReadOnlyCollection<string> nodeIds);

    Task SaveJobAsync(string jobId, RegisterJobRequest job);

    Task RemoveJobAsync(string jobId);

    /// <summary>The job uses the package in the head's store.</summary>
    Task SaveJobPackageAsync(string jobId, string hash);

    Task RemoveJobPackagesAsync(string jobId, IReadOnlyCollection<string> hashes);

    Task SaveActorNameAsync(string name, LookupActorReply actor);

    Task RemoveActorNamesAsync(IReadOnlyCollection<string> names);

    /// <summary>Where an actor lives since it moved; keyed by its id.</summary>
    Task SaveMovedActorAsync(LookupActorReply actor);

    Task RemoveMovedActorsAsync(IReadOnlyCollection<string> actorIds);

    Task SaveSubmissionAsync(JobSubmission job);

    /// <summary>Forgets a submitted job and its output.</summary>
    Task RemoveSubmissionAsync(string submissionId);

    /// <summary>
    /// Saves <paramref name="job"/> and appends <paramref name="added"/> to its output; with
    /// <paramref name="replaceWith"/>, the stored output becomes that instead (what the head keeps of it).
    /// </summary>
    Task AppendJobLogAsync(JobSubmission job, byte[] added, byte[]? replaceWith);
}

/// <summary>No store: a restarted head starts empty.</summary>
internal sealed class MemoryOnly : IHeadStore
{
    public Task<StoredHeadState> LoadAsync() => Task.FromResult(StoredHeadState.Empty);

    public Task SaveNodeAsync(NodeInfo node) => Task.CompletedTask;

    public Task RemoveNodesAsync(IReadOnlyCollection<string> nodeIds) => Task.CompletedTask;

    public Task SaveJobAsync(string jobId, RegisterJobRequest job) => Task.CompletedTask;

    public Task RemoveJobAsync(string jobId) => Task.CompletedTask;

    public Task SaveJobPackageAsync(string jobId, string hash) => Task.CompletedTask;

    public Task RemoveJobPackagesAsync(string jobId, IReadOnlyCollection<string> hashes) => Task.CompletedTask;

    public Task SaveActorNameAsync(string name, LookupActorReply actor) => Task.CompletedTask;

    public Task RemoveActorNamesAsync(IReadOnlyCollection<string> names) => Task.CompletedTask;

    public Task SaveMovedActorAsync(LookupActorReply actor) => Task.CompletedTask;

    public Task RemoveMovedActorsAsync(IReadOnlyCollection<string> actorIds) => Task.CompletedTask;

    public Task SaveSubmissionAsync(JobSubmission job) => Task.CompletedTask;

    public Task RemoveSubmissionAsync(string submissionId) => Task.CompletedTask;

    public Task AppendJobLogAsync(JobSubmission job, byte[] added, byte[]? replaceWith) => Task.CompletedTask;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
