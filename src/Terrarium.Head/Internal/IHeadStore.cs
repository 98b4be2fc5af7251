using Terrarium.Protocol;

namespace Terrarium.Head.Internal;

/// <summary>Where the head's state outlives the head: Redis, or nowhere (<see cref="MemoryOnly"/>).</summary>
internal interface IHeadStore : IAsyncDisposable
{
    Task<(List<NodeInfo> Nodes, List<(string Id, RegisterJobRequest Job)> Jobs, List<(string Name, LookupActorReply Actor)> ActorNames)> LoadAsync();

    Task SaveNodeAsync(NodeInfo node);

    Task SaveJobAsync(string jobId, RegisterJobRequest job);

    Task RemoveJobAsync(string jobId);

    Task SaveActorNameAsync(string name, LookupActorReply actor);

    Task RemoveActorNamesAsync(IReadOnlyCollection<string> names);
}

/// <summary>No store: a restarted head starts empty.</summary>
internal sealed class MemoryOnly : IHeadStore
{
    public Task<(List<NodeInfo> Nodes, List<(string Id, RegisterJobRequest Job)> Jobs, List<(string Name, LookupActorReply Actor)> ActorNames)> LoadAsync() =>
        Task.FromResult((new List<NodeInfo>(), new List<(string, RegisterJobRequest)>(), new List<(string, LookupActorReply)>()));

    public Task SaveNodeAsync(NodeInfo node) => Task.CompletedTask;

    public Task SaveJobAsync(string jobId, RegisterJobRequest job) => Task.CompletedTask;

    public Task RemoveJobAsync(string jobId) => Task.CompletedTask;

    public Task SaveActorNameAsync(string name, LookupActorReply actor) => Task.CompletedTask;

    public Task RemoveActorNamesAsync(IReadOnlyCollection<string> names) => Task.CompletedTask;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
