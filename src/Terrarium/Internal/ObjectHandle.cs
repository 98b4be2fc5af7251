using Terrarium.Protocol;

namespace Terrarium.Internal;

/// <summary>
/// The client's record of one object: completes when the node reports it ready. When the last
/// reference to it is collected, its node is told to release the value.
/// </summary>
internal sealed class ObjectHandle(string id, NodeSession session)
{
    private readonly TaskCompletionSource<ObjectReady> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    ~ObjectHandle() => session.ReleaseFromFinalizer(Id);

    public string Id { get; } = id;

    public NodeSession Session => session;

    public Task<ObjectReady> Ready => _ready.Task;

    public void Complete(ObjectReady ready) => _ready.TrySetResult(ready);

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
