using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Net.Client;
using Terrarium.Actors;
using Terrarium.Objects;
using Terrarium.Packaging;
using Terrarium.Protocol;
using Terrarium.Protocol.Objects;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;
using Terrarium.Serialization;

namespace Terrarium.Sessions;

/// <summary>
/// A driver's (or worker's) session with its node, seen from the client's end (the node's end is
/// <c>Terrarium.Node.Sessions.Session</c>): requests go up in order, batched; object
/// completions and worker output come down. If the stream breaks, the session resumes on a new
/// stream (the node keeps it for a grace period): requests the node had not handled are sent
/// again and the results still awaited are asked for again. Only when that fails for
/// <see cref="ResumeWindow"/> does every pending object fail with <see cref="ObjectLostException"/>
/// and later submissions throw.
/// </summary>
internal sealed partial class Session : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, ObjectHandle> _pending = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _definedEnvs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _preparedEnvs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ActorCaller> _actorCallers = new(StringComparer.Ordinal);
    private static readonly TimeSpan ResumeWindow = TimeSpan.FromSeconds(30);
    private readonly ClusterCredentials _credentials;
    private readonly ObjectTransferClient _transfers;
    private readonly GrpcChannel _channel;
    private readonly Protocol.Node.NodeClient _client;
    private readonly OpenSession _open;
    // Requests sent and not yet handled by the node, in order: sent again on a resumed stream.
    private readonly Lock _requestLock = new();
    private readonly Queue<ClientRequest> _unhandled = new();
    private long _handled;
    // Who waits for the node to have handled a number of requests (see AllHandledAsync).
    private readonly List<(long Count, TaskCompletionSource Handled)> _handledWaiters = [];
    private AsyncDuplexStreamingCall<ClientBatch, SessionBatch> _call;
    private BatchingWriter<ClientRequest, ClientBatch> _requests;
    private readonly Task _reader;
    private volatile bool _disposing;
    private readonly string _idPrefix = Guid.NewGuid().ToString("N")[..10] + "-";
    private readonly SessionListeners? _listeners;
    private readonly bool _reportsBlocking;
    private long _nextId;
    private int _blocked;
    private string _blockedWorkId = "";
    private volatile string? _failure;
    // Set when the head declared the node dead: no resuming, pending objects are lost now.
    private volatile string? _abandoned;

    // A worker's session with another node: waits are reported to the worker's own node, through this one.
    private readonly Session? _blockedReportsTo;

    // What the resume window is measured on. Network timeouts, backoff and the grace when the
    // session closes stay on real time: they bound waits for the network, which a test's clock does not move.
    private readonly TimeProvider _clock;

    private Session(Endpoint node, ClusterCredentials credentials, OpenSession open, SessionListeners? listeners, TimeProvider clock, Session? blockedReportsTo = null)
    {
        _clock = clock;
        _blockedReportsTo = blockedReportsTo;
        (_channel, var invoker) = ClusterChannel.Open(node, credentials);
        _client = new Protocol.Node.NodeClient(invoker);
        _credentials = credentials;
        _transfers = new ObjectTransferClient(credentials);
        _listeners = listeners;
        _open = open;
        _reportsBlocking = open.WorkerId.Length > 0;
        (_call, _requests) = StartStream(open);
        _reader = Task.Run(ReadAsync);
        NodeAddress = node.ToString();
    }

    public string NodeAddress { get; }

    /// <summary>Whether waits are reported to the node: this session is a worker's, whose CPU a wait lends back.</summary>
    public bool ReportsBlocking => _reportsBlocking || _blockedReportsTo is { ReportsBlocking: true };

    /// <summary>How values read through this session are deserialized: bound to the cluster that owns it.</summary>
    public MessagePack.MessagePackSerializerOptions ValueOptions { get; set; } = Serializer.Options;

    public string NodeId => Opened.IsCompletedSuccessfully ? Opened.Result.NodeId : "";

    public Task<SessionOpened> Opened => _opened.Task;

    private readonly TaskCompletionSource<SessionOpened> _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static async Task<Session> OpenAsync(Endpoint node, ClusterCredentials credentials, OpenSession open, SessionListeners? listeners, TimeProvider clock, CancellationToken ct)
    {
        var session = new Session(node, credentials, open, listeners, clock);
        try
        {
            await session.Opened.WaitAsync(ct).ConfigureAwait(false);
            return session;
        }
        catch
        {
            await session.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// A session with another node of the cluster, for work placed there: the same job, opened
    /// without waiting for the node's answer (requests queue behind the open); a worker's waits are
    /// still reported to its own node through this session.
    /// </summary>
    public Session OpenSibling(Endpoint node)
    {
        var open = _open.Clone();
        // The worker id means "one of this node's workers" to the node; there, a worker's session is
        // told apart from the driver's by remote_worker instead.
        open.RemoteWorker = _open.WorkerId.Length > 0 || _open.RemoteWorker;
        open.WorkerId = "";
        open.ResumeSessionId = "";
        open.JobHome = false;
        return new Session(node, _credentials, open, _listeners, _clock, _reportsBlocking ? this : _blockedReportsTo)
        {
            ValueOptions = ValueOptions,
        };
    }

    /// <summary>The credentials its connections use, for other connections to the same cluster.</summary>
    public ClusterCredentials Credentials => _credentials;

    public string NewObjectId() => _idPrefix + Interlocked.Increment(ref _nextId).ToString("x", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Registers an object this session will hear about; <paramref name="madeBy"/> names the task that makes it.</summary>
    public ObjectHandle Track(string id, string? madeBy = null)
    {
        var handle = new ObjectHandle(id, this) { MadeBy = madeBy };
        _pending[id] = handle;
        if (_failure is { } failure && _pending.TryRemove(id, out _))
        {
            handle.Complete(Lost(handle, failure));
        }

        return handle;
    }

    /// <summary>Stops awaiting an object here (its task moves to another node); the handle, or null if it completed.</summary>
    public ObjectHandle? Detach(string id) => _pending.TryRemove(id, out var handle) ? handle : null;

    /// <summary>Awaits <paramref name="handle"/>'s object from this session's node, where its task now runs.</summary>
    public void Adopt(ObjectHandle handle)
    {
        handle.MoveTo(this);
        _pending[handle.Id] = handle;
        if (_failure is { } failure && _pending.TryRemove(handle.Id, out _))
        {
            handle.Complete(Lost(handle, failure));
        }
    }

    /// <summary>
    /// Awaits the result this session's node makes again for <paramref name="original"/>, whose
    /// first node lost it: on a handle of its own, released on the node with the original.
    /// </summary>
    public ObjectHandle TrackRebuild(ObjectHandle original)
    {
        var rebuilt = new ObjectHandle(original.Id, this, onNode: false) { MadeBy = original.MadeBy };
        _pending[original.Id] = rebuilt;
        if (_failure is { } failure && _pending.TryRemove(original.Id, out _))
        {
            rebuilt.Complete(Lost(rebuilt, failure));
        }

        return rebuilt;
    }

    /// <summary>Whether the head declared this session's node dead.</summary>
    public bool IsAbandoned => _abandoned is not null;

    /// <summary>Whether the session is over: its node was declared dead, or could not be reached again.</summary>
    public bool HasEnded => _abandoned is not null || _failure is not null;

    /// <summary>A handle for an object this session completes itself (a put); the node sends nothing for it.</summary>
    public ObjectHandle Untracked(string id) => new(id, this);

    /// <summary>A handle for an object only this process holds (an actor call's result) until a request depends on it.</summary>
    public ObjectHandle OnlyHere(string id) => new(id, this, onNode: false);

    /// <summary>Notes that the head declared this session's node dead; true the first time only.</summary>
    public bool MarkDead() => Interlocked.Exchange(ref _markedDead, 1) == 0;

    private int _markedDead;

    /// <summary>This process's caller of an actor on this session's node, if it has one.</summary>
    public ActorCaller? ExistingCallerOf(string actorId) => _actorCallers.GetValueOrDefault(actorId);

    /// <summary>This process's caller of an actor: calls go straight to the actor's worker.</summary>
    public ActorCaller CallerOf(string actorId) =>
        _actorCallers.TryGetValue(actorId, out var caller) ? caller : _actorCallers.GetOrAdd(actorId, id => new ActorCaller(this, id, _credentials));

    /// <summary>Asks the node to build the env now, before work needs it (eager install); once per session.</summary>
    public void PrepareEnv(ResolvedEnv env)
    {
        if (env.Hash.Length > 0 && _preparedEnvs.TryAdd(env.Hash, true))
        {
            _definedEnvs.TryAdd(env.Hash, true);
            Send(new ClientRequest { DefineEnv = new DefineRuntimeEnv { Hash = env.Hash, CanonicalJson = env.CanonicalJson, Prepare = true } });
        }
    }

    /// <summary>Sends a runtime env's definition the first time this session uses it.</summary>
    public void DefineEnv(ResolvedEnv env)
    {
        if (env.Hash.Length > 0 && _definedEnvs.TryAdd(env.Hash, true))
        {
            Send(new ClientRequest { DefineEnv = new DefineRuntimeEnv { Hash = env.Hash, CanonicalJson = env.CanonicalJson } });
        }
    }

    /// <exception cref="InvalidOperationException">The session has ended.</exception>
    public void Send(ClientRequest request)
    {
        if (!TrySend(request))
        {
            throw new InvalidOperationException($"the connection to the cluster's node ({NodeAddress}) is closed: {_failure ?? "the cluster was disposed"}");
        }
    }

    /// <summary>
    /// Sends a request, kept until the node says it handled it; false once the session is over.
    /// While the stream is broken the request waits to be sent again on the resumed one.
    /// </summary>
    private bool TrySend(ClientRequest request)
    {
        lock (_requestLock)
        {
            if (_failure is not null || _disposing)
            {
                return false;
            }

            _unhandled.Enqueue(request);
            _requests.TryWrite(request);
            return true;
        }
    }

    /// <summary>
    /// The node is gone for good (the head declared it dead): stop trying to resume, and fail what
    /// was awaited from it with <see cref="ObjectLostException"/> naming <paramref name="reason"/>.
    /// </summary>
    public void Abandon(string reason)
    {
        MarkDead();
        if (_abandoned is not null || _failure is not null)
        {
            return;
        }

        _abandoned = reason;
        lock (_requestLock)
        {
            _call.Dispose();
        }
    }

    public void ReleaseFromFinalizer(string id) =>
        TrySend(new ClientRequest { Release = new ReleaseObjects { ObjectIds = { id } } });

    /// <summary>Marks this worker as waiting on an object until the returned scope is disposed.</summary>
    public BlockedScope EnterBlocked()
    {
        if (_blockedReportsTo is not null)
        {
            return _blockedReportsTo.EnterBlocked();
        }

        if (_reportsBlocking && Interlocked.Increment(ref _blocked) == 1)
        {
            // A worker runs one task at a time: the task that starts waiting is the one running.
            _blockedWorkId = RuntimeContext.CurrentWorkId ?? "";
            TrySend(new ClientRequest { Blocked = new WorkerBlocked { Blocked = true, WorkId = _blockedWorkId } });
        }

        return new BlockedScope(this);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var caller in _actorCallers.Values)
        {
            await caller.DisposeAsync().ConfigureAwait(false);
        }

        await _transfers.DisposeAsync().ConfigureAwait(false);

        BatchingWriter<ClientRequest, ClientBatch> requests;
        AsyncDuplexStreamingCall<ClientBatch, SessionBatch> call;
        lock (_requestLock)
        {
            _disposing = true;
            requests = _requests;
            call = _call;
        }

        requests.Complete();
        try
        {
            await requests.Completion.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            // Ending the request stream is what tells the node the session is over (not broken).
            await call.RequestStream.CompleteAsync().WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            await _reader.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException or TimeoutException or IOException)
        {
            // The node is gone already; nothing to flush.
        }

        _call.Dispose();
        _channel.Dispose();
    }

    private (AsyncDuplexStreamingCall<ClientBatch, SessionBatch> Call, BatchingWriter<ClientRequest, ClientBatch> Requests) StartStream(OpenSession open)
    {
        var call = _client.Session();
        var requests = new BatchingWriter<ClientRequest, ClientBatch>(call.RequestStream, () => new ClientBatch(), (b, r) => b.Requests.Add(r), CancellationToken.None);
        requests.TryWrite(new ClientRequest { Open = open });
        return (call, requests);
    }

    private async Task ReadAsync()
    {
        string reason;
        while (true)
        {
            reason = await ReadStreamAsync(_call).ConfigureAwait(false);
            if (_abandoned is { } abandoned)
            {
                reason = abandoned;
                break;
            }

            if (_disposing || !_opened.Task.IsCompletedSuccessfully)
            {
                break;
            }

            if (!await ResumeAsync().ConfigureAwait(false))
            {
                reason = _abandoned ?? reason + $"; the session could not be resumed within {ResumeWindow.TotalSeconds:0} s";
                break;
            }
        }

        lock (_requestLock)
        {
            _failure = reason;
            ReleaseHandledWaiters(all: true);
        }

        _opened.TrySetException(new InvalidOperationException($"the node at {NodeAddress} closed the session: {reason}"));
        foreach (var id in _pending.Keys)
        {
            if (_pending.TryRemove(id, out var handle))
            {
                handle.Complete(Lost(handle, reason));
            }
        }

        foreach (var caller in _actorCallers.Values)
        {
            caller.OnSessionEnded(reason, nodeDied: _abandoned is not null);
        }
    }

    /// <summary>Handles the events of one stream until it ends; why it ended.</summary>
    private async Task<string> ReadStreamAsync(AsyncDuplexStreamingCall<ClientBatch, SessionBatch> call)
    {
        try
        {
            await foreach (var batch in call.ResponseStream.ReadAllAsync().ConfigureAwait(false))
            {
                foreach (var e in batch.Events)
                {
                    Handle(e);
                }
            }

            return "the node ended the session";
        }
        catch (RpcException e)
        {
            var reason = e.Status.Detail.Length > 0 ? e.Status.Detail : e.Status.StatusCode.ToString();
            _opened.TrySetException(new InvalidOperationException($"could not open a session with the node at {NodeAddress}: {reason}", e));
            return reason;
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException)
        {
            return e.Message;
        }
    }

    private void Handle(SessionEvent e)
    {
        switch (e.KindCase)
        {
            case SessionEvent.KindOneofCase.ObjectReady:
                if (_pending.TryRemove(e.ObjectReady.ObjectId, out var handle))
                {
                    handle.Complete(e.ObjectReady);
                }

                break;
            case SessionEvent.KindOneofCase.Handled:
                Forget(e.Handled.Count);
                break;
            case SessionEvent.KindOneofCase.ActorLocation:
                if (_actorCallers.TryGetValue(e.ActorLocation.ActorId, out var caller))
                {
                    caller.OnLocated(e.ActorLocation);
                }

                break;
            case SessionEvent.KindOneofCase.Logs:
                _listeners?.OnLogs?.Invoke(e.Logs);
                break;
            case SessionEvent.KindOneofCase.EnvSetup:
                _listeners?.OnEnvSetup?.Invoke(e.EnvSetup);
                break;
            case SessionEvent.KindOneofCase.Opened:
                _opened.TrySetResult(e.Opened);
                break;
        }
    }

    /// <summary>
    /// Completes once the node has handled every request sent so far (or the session is over): what
    /// a task asked of the cluster is then known to its node before anything that follows.
    /// </summary>
    public Task AllHandledAsync()
    {
        lock (_requestLock)
        {
            if (_unhandled.Count == 0 || _failure is not null)
            {
                return Task.CompletedTask;
            }

            var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _handledWaiters.Add((_handled + _unhandled.Count, waiter));
            return waiter.Task;
        }
    }

    /// <summary>The node handled this many requests of the session: they need not be sent again.</summary>
    private void Forget(long handled)
    {
        lock (_requestLock)
        {
            ForgetLocked(handled);
        }
    }

    private void ForgetLocked(long handled)
    {
        while (_handled < handled && _unhandled.TryDequeue(out _))
        {
            _handled++;
        }

        ReleaseHandledWaiters(all: false);
    }

    private void ReleaseHandledWaiters(bool all)
    {
        for (var i = _handledWaiters.Count - 1; i >= 0; i--)
        {
            if (all || _handledWaiters[i].Count <= _handled)
            {
                _handledWaiters[i].Handled.TrySetResult();
                _handledWaiters.RemoveAt(i);
            }
        }
    }

    /// <summary>
    /// Continues the session on a new stream, trying for <see cref="ResumeWindow"/>: the requests the
    /// node had not handled are sent again, then the results still awaited are asked for again
    /// (those the node sent on the broken stream are lost with it), and actor callers that were
    /// asking where their actor is ask again. False when the node no longer has the session.
    /// </summary>
    private async Task<bool> ResumeAsync()
    {
        var sessionId = _opened.Task.Result.SessionId;
        var resume = _open.Clone();
        resume.ResumeSessionId = sessionId;
        var started = _clock.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(50);
        while (!_disposing && _abandoned is null && _clock.GetElapsedTime(started) < ResumeWindow)
        {
            var (call, requests) = StartStream(resume);
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                if (!await call.ResponseStream.MoveNext(timeout.Token).ConfigureAwait(false) ||
                    call.ResponseStream.Current.Events.FirstOrDefault()?.Opened is not { } opened)
                {
                    throw new IOException("the node did not answer the resumed session");
                }

                lock (_requestLock)
                {
                    if (_disposing)
                    {
                        requests.Complete();
                        call.Dispose();
                        return false;
                    }

                    _call.Dispose();
                    (_call, _requests) = (call, requests);
                    ForgetLocked(opened.RequestsHandled);
                    foreach (var request in _unhandled)
                    {
                        requests.TryWrite(request);
                    }
                }

                TrySend(new ClientRequest { Resend = new ResendResults { ObjectIds = { _pending.Keys } } });
                foreach (var e in call.ResponseStream.Current.Events.Skip(1))
                {
                    Handle(e);
                }

                foreach (var caller in _actorCallers.Values)
                {
                    caller.OnSessionResumed();
                }

                return true;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.NotFound or StatusCode.Unauthenticated or StatusCode.InvalidArgument)
            {
                // The node does not have the session any more (or will never take it): nothing to wait for.
                call.Dispose();
                return false;
            }
            catch (Exception e) when (e is RpcException or IOException or OperationCanceledException or InvalidOperationException)
            {
                call.Dispose();
                await Task.Delay(delay).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
            }
        }

        return false;
    }

    private ObjectReady Lost(ObjectHandle handle, string reason) =>
        LostBecause(handle, $"the connection to node {NodeAddress} ended ({reason})");

    private static ObjectReady LostBecause(ObjectHandle handle, string why) => new()
    {
        ObjectId = handle.Id,
        Error = new TaskError
        {
            Kind = ErrorKind.ObjectLost,
            Function = handle.MadeBy ?? "",
            Message = $"{(handle.MadeBy is { } task ? $"the result of {task} (object {handle.Id})" : $"object {handle.Id}")} is lost: {why}",
        },
    };

    internal readonly struct BlockedScope(Session session) : IDisposable
    {
        public void Dispose()
        {
            if (session._reportsBlocking && Interlocked.Decrement(ref session._blocked) == 0)
            {
                session.TrySend(new ClientRequest { Blocked = new WorkerBlocked { Blocked = false, WorkId = session._blockedWorkId } });
            }
        }
    }
}
