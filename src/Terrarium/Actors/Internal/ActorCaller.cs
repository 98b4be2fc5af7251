using Terrarium.Objects;
using Terrarium.Protocol;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.SharedMemory;
using Terrarium.Protocol.Transport;
using Terrarium.Serialization;
using Terrarium.Sessions;

namespace Terrarium.Actors;

/// <summary>
/// This process's calls to one actor. They go straight to the actor's worker, whose address the
/// node gives (<see cref="LocateActor"/>); calls made before it is known wait here, in order. A
/// call waits for the refs it takes as arguments before it is sent, and the calls after it wait
/// behind it, so the actor runs them in call order. When the stream to the worker ends, the calls
/// sent on it fail with how that incarnation ended, and the caller asks where the next one is.
/// </summary>
internal sealed class ActorCaller(Session session, string actorId, ClusterCredentials credentials) : IAsyncDisposable
{
    private readonly Lock _lock = new();
    // Set for a caller that only holds calls while the head is asked which node the actor is on.
    private bool _findingNode;
    private readonly Queue<PendingCall> _unsent = new();
    private Dictionary<string, ObjectHandle> _sent = new(StringComparer.Ordinal);
    private Dictionary<string, ObjectHandle>? _lostWithLastIncarnation;
    private ActorConnection? _connection;
    private int _incarnation;
    private bool _locating;
    private TaskError? _death;
    // Set when the actor was created again on another node: calls made here go there.
    private ActorCaller? _successor;

    /// <summary>
    /// A caller that holds calls, in order and unsent, while the node of the actor is being found
    /// (see <see cref="Placement.NodeRouter"/>); <see cref="OnNodeFound"/> or <see cref="OnNodeNotFound"/> ends its wait.
    /// </summary>
    public static ActorCaller WhileFindingNode(Session home, string actorId, ClusterCredentials credentials) =>
        new(home, actorId, credentials) { _findingNode = true };

    /// <summary>The actor's node is known: the calls held here go to its caller there, first, and later calls follow.</summary>
    public void OnNodeFound(ActorCaller caller)
    {
        lock (_lock)
        {
            // Handed over before later calls are pointed there, so that none of them goes first
            // (the lock order, this caller then the node's, is Call's too).
            var unsent = _unsent.ToList();
            _unsent.Clear();
            caller.TakeOver(unsent);
            Volatile.Write(ref _successor, caller);
        }
    }

    /// <summary>The actor's node could not be found: the calls held here, and later ones, fail with <paramref name="death"/>.</summary>
    public void OnNodeNotFound(TaskError death)
    {
        lock (_lock)
        {
            Die(death);
        }
    }

    /// <summary>An id for a new call, unique in this process.</summary>
    public string NewCallId() => session.NewObjectId();

    /// <param name="callId">The call's id, from <see cref="NewCallId"/>.</param>
    /// <param name="method">The method to call.</param>
    /// <param name="args">Its arguments.</param>
    /// <param name="concurrencyGroup">The group to run in instead of the method's, or empty.</param>
    public ObjectHandle Call(string callId, FunctionDescriptor method, CallArg[] args, string concurrencyGroup = "")
    {
        if (Volatile.Read(ref _successor) is { } successor)
        {
            return successor.Call(callId, method, args, concurrencyGroup);
        }

        var handle = session.OnlyHere(callId);
        handle.Caller = this;
        lock (_lock)
        {
            if (_successor is { } next)
            {
                return next.Call(callId, method, args, concurrencyGroup);
            }

            if (_death is { } death)
            {
                Fail(handle, death);
                return handle;
            }

            _unsent.Enqueue(new PendingCall(handle, method, args, concurrencyGroup));
        }

        Pump();
        return handle;
    }

    /// <summary>
    /// Cancels a call: one not sent yet (waiting for the actor or for its arguments) fails here
    /// without running; a sent one has its token cancelled by the actor's worker.
    /// </summary>
    public Task CancelAsync(ObjectHandle handle, CancellationToken ct)
    {
        ActorConnection? connection;
        lock (_lock)
        {
            var waiting = _unsent.FirstOrDefault(c => c.Handle == handle);
            if (waiting is not null)
            {
                var others = _unsent.Where(c => c != waiting).ToList();
                _unsent.Clear();
                foreach (var call in others)
                {
                    _unsent.Enqueue(call);
                }

                Fail(handle, new TaskError { Kind = ErrorKind.Cancelled, Function = waiting.Display, Message = $"{waiting.Display} was cancelled before it was sent to actor {actorId}" });
                connection = null;
            }
            else
            {
                connection = _sent.ContainsKey(handle.Id) ? _connection : null;
            }
        }

        // Calls behind a cancelled one that waited for its turn may go now.
        Pump();
        return connection?.CancelAsync(handle.Id, ct) ?? Task.CompletedTask;
    }

    /// <summary>The node's answer to <see cref="LocateActor"/>.</summary>
    public void OnLocated(ActorLocation location)
    {
        lock (_lock)
        {
            if (!_locating || _successor is not null)
            {
                // Only one question is out at a time; anything else is not an answer to it. A caller
                // that handed its calls over connects to nothing more.
                return;
            }

            _locating = false;
            var lost = _lostWithLastIncarnation;
            _lostWithLastIncarnation = null;
            if (lost is not null)
            {
                var ended = location.Ended ?? location.Death ?? new TaskError { Kind = ErrorKind.ActorDied, Message = $"the worker of actor {actorId} went away" };
                FailAll(lost.Values, WhileRunning(ended));
            }

            if (location.Death is { } death)
            {
                Die(death);
                return;
            }

            if (!TryParse(location.Address, out var address))
            {
                Die(new TaskError { Kind = ErrorKind.ActorDied, Message = $"the node gave actor {actorId} an address that is not one: '{location.Address}'" });
                return;
            }

            _incarnation = location.Incarnation;
            _connection = new ActorConnection(AddressesOf(location, address), credentials, actorId, OnResult, OnEnded);
        }

        Pump();
    }

    /// <summary>
    /// The session with the node resumed on a new stream: a question about where the actor is may
    /// have been answered on the broken one, so it is asked again (a second answer is ignored).
    /// </summary>
    public void OnSessionResumed()
    {
        lock (_lock)
        {
            if (_locating)
            {
                _locating = false;
                Locate();
            }
        }
    }

    /// <summary>
    /// The actor's node died and the actor is being created again on another node, whose caller is
    /// <paramref name="successor"/>: the calls in flight on the old incarnation fail with how it ended;
    /// the calls not sent yet go to the successor ahead of any later one, in their order, and wait
    /// there for the new incarnation (as Ray's do); calls made here from now on go there too. The
    /// old worker, which may still answer for a moment, gets nothing more: no two copies of the actor
    /// take calls.
    /// </summary>
    public void HandOverTo(ActorCaller successor, string reason)
    {
        List<PendingCall> unsent;
        ActorConnection? connection;
        lock (_lock)
        {
            var death = new TaskError { Kind = ErrorKind.ActorDied, Message = $"actor {actorId} died with its node: {reason}" };
            if (_lostWithLastIncarnation is { } lost)
            {
                FailAll(lost.Values, WhileRunning(death));
                _lostWithLastIncarnation = null;
            }

            FailAll(_sent.Values, WhileRunning(death));
            _sent.Clear();
            unsent = [.. _unsent];
            _unsent.Clear();
            _death = death;
            _locating = false;
            connection = _connection;
            _connection = null;
            Volatile.Write(ref _successor, successor);
        }

        successor.TakeOver(unsent);
        _ = connection?.CloseAsync();
    }

    /// <summary>Calls handed over by the caller of the actor's previous node: they go first.</summary>
    private void TakeOver(IReadOnlyList<PendingCall> calls)
    {
        lock (_lock)
        {
            var later = _unsent.ToList();
            _unsent.Clear();
            foreach (var call in calls)
            {
                call.Handle.MoveTo(session);
                call.Handle.Caller = this;
                call.Waiting = false;
                _unsent.Enqueue(call);
            }

            foreach (var call in later)
            {
                _unsent.Enqueue(call);
            }
        }

        Pump();
    }

    /// <summary>
    /// The session with the actor's node is over: calls not answered fail — with
    /// <see cref="ErrorKind.ActorDied"/> when the node itself died (the actor died with it), else as lost.
    /// </summary>
    public void OnSessionEnded(string reason, bool nodeDied)
    {
        lock (_lock)
        {
            EndWithSession(nodeDied
                ? new TaskError { Kind = ErrorKind.ActorDied, Message = $"actor {actorId} died with its node: {reason}" }
                : Lost(reason));
        }
    }

    public async ValueTask DisposeAsync()
    {
        ActorConnection? connection;
        lock (_lock)
        {
            connection = _connection;
            _connection = null;
        }

        if (connection is not null)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Sends every call at the head of the queue whose arguments are ready.</summary>
    internal void Pump()
    {
        lock (_lock)
        {
            if (_connection is null)
            {
                Locate();
                return;
            }

            while (_unsent.TryPeek(out var next))
            {
                if (next.FirstUnreadyDependency() is { } unready)
                {
                    if (!next.Waiting)
                    {
                        next.Waiting = true;
                        // Whoever holds the call by then pumps it (it may have been handed over), and may
                        // wait again for its next unready argument.
                        _ = unready.ContinueWith(_ => next.Resume(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                    }

                    return;
                }

                _unsent.Dequeue();
                var (call, failedDependency) = next.ToCall();
                if (failedDependency is not null)
                {
                    Fail(next.Handle, failedDependency);
                    continue;
                }

                _sent[call.WorkId] = next.Handle;
                if (!_connection.TrySend(call))
                {
                    // The stream just ended: OnEnded fails what was sent on it and finds the next worker.
                    return;
                }
            }
        }
    }

    private void OnResult(WorkDone done)
    {
        ObjectHandle? handle;
        lock (_lock)
        {
            _sent.Remove(done.WorkId, out handle);
        }

        handle?.Complete(done.ResultCase == WorkDone.ResultOneofCase.Error
            ? new ObjectReady { ObjectId = done.WorkId, Error = done.Error }
            : new ObjectReady { ObjectId = done.WorkId, Value = done.Value });
    }

    private void OnEnded(ActorConnection connection)
    {
        lock (_lock)
        {
            if (_connection != connection)
            {
                return;
            }

            _connection = null;
            _lostWithLastIncarnation = _sent;
            _sent = new Dictionary<string, ObjectHandle>(StringComparer.Ordinal);
            Locate();
        }

        _ = connection.CloseAsync();
    }

    /// <summary>Asks the node where the actor is, once at a time. Called under the lock.</summary>
    private void Locate()
    {
        if (_locating || _death is not null || _findingNode)
        {
            return;
        }

        _locating = true;
        try
        {
            session.Send(new ClientRequest { LocateActor = new LocateActor { ActorId = actorId, AfterIncarnation = _incarnation } });
        }
        catch (InvalidOperationException e)
        {
            EndWithSession(Lost(e.Message));
        }
    }

    /// <summary>Called under the lock.</summary>
    private void EndWithSession(TaskError lost)
    {
        if (_lostWithLastIncarnation is { } lostWithWorker)
        {
            FailAll(lostWithWorker.Values, lost);
            _lostWithLastIncarnation = null;
        }

        FailAll(_sent.Values, lost);
        _sent.Clear();
        Die(lost);
    }

    /// <summary>Called under the lock.</summary>
    private void Die(TaskError death)
    {
        _death = death;
        while (_unsent.TryDequeue(out var call))
        {
            Fail(call.Handle, death);
        }
    }

    /// <summary>Where to reach the worker, best first: its Unix socket when this process is on its machine, then its address.</summary>
    private static IReadOnlyList<Endpoint> AddressesOf(ActorLocation location, Endpoint address) =>
        location.UnixAddress.Length > 0 && MachineIdentity.BootId.Length > 0 && location.BootId == MachineIdentity.BootId && TryParse(location.UnixAddress, out var unix)
            ? [unix, address]
            : [address];

    private static bool TryParse(string text, out Endpoint address)
    {
        try
        {
            address = Endpoint.Parse(text);
            return true;
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            address = null!;
            return false;
        }
    }

    private static void FailAll(IEnumerable<ObjectHandle> handles, TaskError error)
    {
        foreach (var handle in handles)
        {
            Fail(handle, error);
        }
    }

    private static void Fail(ObjectHandle handle, TaskError error) =>
        handle.Complete(new ObjectReady { ObjectId = handle.Id, Error = error });

    private static TaskError WhileRunning(TaskError ended)
    {
        var error = ended.Clone();
        error.Message += ", while this call was running or waiting on that worker";
        return error;
    }

    private TaskError Lost(string reason) => new()
    {
        Kind = ErrorKind.ObjectLost,
        Message = $"the result of a call to actor {actorId} is lost: the connection to the cluster's node ended ({reason})",
    };
}
