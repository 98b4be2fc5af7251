using Terrarium.Protocol;

namespace Terrarium.Internal;

/// <summary>
/// The client's record of one object: completes when the node reports it ready, or, for an actor
/// call's result, when the actor's worker answers this process directly. When the last reference
/// to it is collected, its node (if it holds the object) is told to release the value.
/// </summary>
internal sealed class ObjectHandle(string id, NodeSession session, bool onNode = true)
{
    private readonly TaskCompletionSource<ObjectReady> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _onNode = onNode ? 1 : 0;

    ~ObjectHandle()
    {
        if (Volatile.Read(ref _onNode) == 1)
        {
            session.ReleaseFromFinalizer(Id);
        }
    }

    public string Id { get; } = id;

    public NodeSession Session => session;

    public Task<ObjectReady> Ready => _ready.Task;

    public void Complete(ObjectReady ready) => _ready.TrySetResult(ready);

    /// <summary>Marks the object as shared with the node; true the first time only.</summary>
    public bool MarkOnNode() => Interlocked.Exchange(ref _onNode, 1) == 0;

    /// <summary>Waits for the object; inside a worker, the wait lends the worker's CPU back to its node.</summary>
    public Task<ObjectReady> WaitAsync() =>
        _ready.Task.IsCompleted || !session.ReportsBlocking ? _ready.Task : WaitBlockedAsync();

    private async Task<ObjectReady> WaitBlockedAsync()
    {
        using (session.EnterBlocked())
        {
            return await _ready.Task.ConfigureAwait(false);
        }
    }
}
