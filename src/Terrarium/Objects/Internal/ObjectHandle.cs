using Terrarium.Actors;
using Terrarium.Protocol;
using Terrarium.Sessions;

namespace Terrarium.Objects;

/// <summary>
/// The client's record of one object: completes when the node reports it ready, or, for an actor
/// call's result, when the actor's worker answers this process directly. When the last reference
/// to it is collected, its node (if it holds the object) is told to release the value.
/// </summary>
internal sealed class ObjectHandle
{
    private readonly TaskCompletionSource<ObjectReady> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile Session _session;
    private int _onNode;

    public ObjectHandle(string id, Session session, bool onNode = true)
    {
        Id = id;
        _session = session;
        _onNode = onNode ? 1 : 0;
        if (!onNode)
        {
            // Nothing to release on the node: spare the GC a finalizer per actor call result.
            GC.SuppressFinalize(this);
        }
    }

    // Other nodes this process put the object on, for work placed there; released with it.
    private List<Session>? _copies;

    // The value of a large result that stayed on its node, once asked for.
    private Task<ObjectReady>? _fetched;

    ~ObjectHandle()
    {
        _session.ReleaseFromFinalizer(Id);
        if (_copies is { } copies)
        {
            foreach (var copy in copies)
            {
                copy.ReleaseFromFinalizer(Id);
            }
        }
    }

    public string Id { get; }

    public Session Session => _session;

    /// <summary>The task whose result this is, for messages (null for puts and actor calls).</summary>
    public string? MadeBy { get; init; }

    /// <summary>The object's task moved to <paramref name="session"/>'s node (its own node died).</summary>
    public void MoveTo(Session session) => _session = session;

    /// <summary>For a part of a split object (see <see cref="ObjectParts"/>): the whole, kept alive with it until the part is made.</summary>
    public ObjectHandle? PartOf { get; set; }

    /// <summary>For an actor call's result: the caller that sent the call (and can cancel it).</summary>
    public ActorCaller? Caller { get; set; }

    public Task<ObjectReady> Ready => _ready.Task;

    public void Complete(ObjectReady ready) => _ready.TrySetResult(ready);

    /// <summary>Marks the object as shared with the node (to be released there); true the first time only.</summary>
    public bool MarkOnNode()
    {
        if (Interlocked.Exchange(ref _onNode, 1) != 0)
        {
            return false;
        }

        GC.ReRegisterForFinalize(this);
        return true;
    }

    /// <summary>Records that <paramref name="session"/>'s node gets a copy of the object; true the first time only.</summary>
    public bool AddCopyOn(Session session)
    {
        lock (_ready)
        {
            _copies ??= [];
            if (_copies.Contains(session))
            {
                return false;
            }

            _copies.Add(session);
        }

        GC.ReRegisterForFinalize(this);
        return true;
    }

    /// <summary>
    /// The object with its value in this process: a large result that stayed on its node is fetched
    /// from there the first time. Its node being gone makes it an <see cref="ErrorKind.ObjectLost"/>.
    /// </summary>
    public async Task<ObjectReady> ValueAsync()
    {
        var ready = await _ready.Task.ConfigureAwait(false);
        if (ready.ResultCase != ObjectReady.ResultOneofCase.StoredLength)
        {
            return ready;
        }

        lock (_ready)
        {
            _fetched ??= FetchAsync();
        }

        return await _fetched.ConfigureAwait(false);
    }

    /// <summary>
    /// For a large result that only its node held: runs its task again elsewhere when that node
    /// cannot give it (set while the task has retries left), given how it was lost, and says when the
    /// new result is ready; null when no retry is left. Setting it after <see cref="DropLineage"/> does nothing.
    /// </summary>
    public Func<ObjectReady, Task<ObjectReady>?>? Rebuild
    {
        get => _rebuild;
        set => _rebuild = LineageDropped is null ? value : null;
    }

    private volatile Func<ObjectReady, Task<ObjectReady>?>? _rebuild;

    /// <summary>Why this result will not be made again although its task had retries left, if so.</summary>
    public string? LineageDropped { get; private set; }

    /// <summary>Forgets how to make this result again, so that its task's arguments can be released.</summary>
    public void DropLineage(string why)
    {
        LineageDropped = why;
        _rebuild = null;
    }

    /// <summary>Whether its task ran again elsewhere since the node that first held it was lost.</summary>
    public bool Rebuilt { get; private set; }

    private async Task<ObjectReady> FetchAsync()
    {
        var fetched = await _session.FetchAsync(this, _ready.Task.Result).ConfigureAwait(false);
        while (fetched.Error is { Kind: ErrorKind.ObjectLost } && Rebuild?.Invoke(fetched) is { } rebuilding)
        {
            // Meanwhile, requests that take it get it through this process, not from its old node.
            var (heldBy, wasRebuilt) = (_session, Rebuilt);
            Rebuilt = true;
            var again = await rebuilding.ConfigureAwait(false);
            if (_session == heldBy)
            {
                // No other node could run it: it stays the lost object of its old node.
                Rebuilt = wasRebuilt;
            }

            fetched = again.ResultCase == ObjectReady.ResultOneofCase.StoredLength ? await _session.FetchAsync(this, again).ConfigureAwait(false) : again;
        }

        if (fetched.ResultCase == ObjectReady.ResultOneofCase.Value)
        {
            // The value is here now: its task's arguments need not be kept to make it again.
            _rebuild = null;
        }
        else if (fetched.Error is { Kind: ErrorKind.ObjectLost } && LineageDropped is { } why)
        {
            fetched = fetched.Clone();
            fetched.Error.Message += $"; its task was not run again: {why}";
        }

        return fetched;
    }

    /// <summary>Whether the value (or error) is in this process: ready, and fetched if it stayed on its node.</summary>
    public bool HasValue => _ready.Task.IsCompletedSuccessfully &&
        (_ready.Task.Result.ResultCase != ObjectReady.ResultOneofCase.StoredLength || _fetched is { IsCompletedSuccessfully: true });

    /// <summary>The value once <see cref="HasValue"/> says it is here.</summary>
    public ObjectReady Value => _ready.Task.Result.ResultCase == ObjectReady.ResultOneofCase.StoredLength ? _fetched!.Result : _ready.Task.Result;

    /// <summary>Waits for the object; inside a worker, the wait lends the worker's CPU back to its node.</summary>
    public Task<ObjectReady> WaitAsync() =>
        _ready.Task.IsCompleted || !_session.ReportsBlocking ? _ready.Task : WaitBlockedAsync();

    private async Task<ObjectReady> WaitBlockedAsync()
    {
        using (_session.EnterBlocked())
        {
            return await _ready.Task.ConfigureAwait(false);
        }
    }
}
