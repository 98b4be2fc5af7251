using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Net.Client;
using Terrarium.Protocol;
using Terrarium.Protocol.Hosting;

namespace Terrarium.Internal;

/// <summary>
/// A driver's (or worker's) session with its node: requests go up in order, batched; object
/// completions and worker output come down. If the stream breaks, every pending object fails with
/// <see cref="ObjectLostException"/> and later submissions throw.
/// </summary>
internal sealed class NodeSession : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, ObjectHandle> _pending = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _definedEnvs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ActorCaller> _actorCallers = new(StringComparer.Ordinal);
    private readonly string _token;
    private readonly GrpcChannel _channel;
    private readonly AsyncDuplexStreamingCall<ClientBatch, SessionBatch> _call;
    private readonly BatchingWriter<ClientRequest, ClientBatch> _requests;
    private readonly Task _reader;
    private readonly string _idPrefix = Guid.NewGuid().ToString("N")[..10] + "-";
    private readonly Action<LogLines>? _onLogs;
    private readonly bool _reportsBlocking;
    private long _nextId;
    private int _blocked;
    private string _blockedWorkId = "";
    private volatile string? _failure;

    private NodeSession(Endpoint node, string token, OpenSession open, Action<LogLines>? onLogs)
    {
        (_channel, var invoker) = ClusterChannel.Open(node, token);
        _token = token;
        _onLogs = onLogs;
        _reportsBlocking = open.WorkerId.Length > 0;
        _call = new Protocol.Node.NodeClient(invoker).Session();
        _requests = new BatchingWriter<ClientRequest, ClientBatch>(_call.RequestStream, () => new ClientBatch(), (b, r) => b.Requests.Add(r), CancellationToken.None);
        _requests.TryWrite(new ClientRequest { Open = open });
        _reader = Task.Run(ReadAsync);
        NodeAddress = node.ToString();
    }

    public string NodeAddress { get; }

    /// <summary>Whether waits are reported to the node: this session is a worker's, whose CPU a wait lends back.</summary>
    public bool ReportsBlocking => _reportsBlocking;

    /// <summary>How values read through this session are deserialized: bound to the cluster that owns it.</summary>
    public MessagePack.MessagePackSerializerOptions ValueOptions { get; set; } = Serializer.Options;

    public string NodeId => Opened.IsCompletedSuccessfully ? Opened.Result.NodeId : "";

    public Task<SessionOpened> Opened => _opened.Task;

    private readonly TaskCompletionSource<SessionOpened> _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static async Task<NodeSession> OpenAsync(Endpoint node, string token, OpenSession open, Action<LogLines>? onLogs, CancellationToken ct)
    {
        var session = new NodeSession(node, token, open, onLogs);
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

    public string NewObjectId() => _idPrefix + Interlocked.Increment(ref _nextId).ToString("x", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Registers an object this session will hear about.</summary>
    public ObjectHandle Track(string id)
    {
        var handle = new ObjectHandle(id, this);
        _pending[id] = handle;
        if (_failure is { } failure && _pending.TryRemove(id, out _))
        {
            handle.Complete(Lost(id, failure));
        }

        return handle;
    }

    /// <summary>A handle for an object this session completes itself (a put); the node sends nothing for it.</summary>
    public ObjectHandle Untracked(string id) => new(id, this);

    /// <summary>A handle for an object only this process holds (an actor call's result) until a request depends on it.</summary>
    public ObjectHandle Held(string id) => new(id, this, onNode: false);

    /// <summary>This process's caller of an actor: calls go straight to the actor's worker.</summary>
    public ActorCaller CallerOf(string actorId) =>
        _actorCallers.TryGetValue(actorId, out var caller) ? caller : _actorCallers.GetOrAdd(actorId, id => new ActorCaller(this, id, _token));

    /// <summary>
    /// Makes sure the node will hold an object this process holds, before a request that depends
    /// on it is sent: a put if the value is here, else a promise now and the put when it comes.
    /// </summary>
    public void ShareWithNode(ObjectHandle handle)
    {
        if (handle.Session != this || !handle.MarkOnNode())
        {
            return;
        }

        if (handle.Ready.IsCompleted)
        {
            Send(new ClientRequest { Put = ToPut(handle.Ready.Result) });
            return;
        }

        Send(new ClientRequest { Promise = new PromiseObject { ObjectId = handle.Id } });
        _ = handle.Ready.ContinueWith(
            ready => _requests.TryWrite(new ClientRequest { Put = ToPut(ready.Result) }),
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
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
        if (_failure is { } failure || !_requests.TryWrite(request))
        {
            throw new InvalidOperationException($"the connection to the cluster's node ({NodeAddress}) is closed: {_failure ?? "the cluster was disposed"}");
        }
    }

    public void ReleaseFromFinalizer(string id) =>
        _requests.TryWrite(new ClientRequest { Release = new ReleaseObjects { ObjectIds = { id } } });

    /// <summary>Marks this worker as waiting on an object until the returned scope is disposed.</summary>
    public BlockedScope EnterBlocked()
    {
        if (_reportsBlocking && Interlocked.Increment(ref _blocked) == 1)
        {
            // A worker runs one task at a time: the task that starts waiting is the one running.
            _blockedWorkId = RuntimeContext.CurrentWorkId ?? "";
            _requests.TryWrite(new ClientRequest { Blocked = new WorkerBlocked { Blocked = true, WorkId = _blockedWorkId } });
        }

        return new BlockedScope(this);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var caller in _actorCallers.Values)
        {
            await caller.DisposeAsync().ConfigureAwait(false);
        }

        _requests.Complete();
        try
        {
            await _requests.Completion.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            await _call.RequestStream.CompleteAsync().WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            await _reader.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException or TimeoutException or IOException)
        {
            // The node is gone already; nothing to flush.
        }

        _call.Dispose();
        _channel.Dispose();
    }

    private async Task ReadAsync()
    {
        string reason = "the session ended";
        try
        {
            await foreach (var batch in _call.ResponseStream.ReadAllAsync().ConfigureAwait(false))
            {
                foreach (var e in batch.Events)
                {
                    switch (e.KindCase)
                    {
                        case SessionEvent.KindOneofCase.ObjectReady:
                            if (_pending.TryRemove(e.ObjectReady.ObjectId, out var handle))
                            {
                                handle.Complete(e.ObjectReady);
                            }

                            break;
                        case SessionEvent.KindOneofCase.ActorLocation:
                            if (_actorCallers.TryGetValue(e.ActorLocation.ActorId, out var caller))
                            {
                                caller.OnLocated(e.ActorLocation);
                            }

                            break;
                        case SessionEvent.KindOneofCase.Logs:
                            _onLogs?.Invoke(e.Logs);
                            break;
                        case SessionEvent.KindOneofCase.Opened:
                            _opened.TrySetResult(e.Opened);
                            break;
                    }
                }
            }
        }
        catch (RpcException e)
        {
            reason = e.Status.Detail.Length > 0 ? e.Status.Detail : e.Status.StatusCode.ToString();
            _opened.TrySetException(new InvalidOperationException($"could not open a session with the node at {NodeAddress}: {reason}", e));
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException)
        {
            reason = e.Message;
        }

        _failure = reason;
        _opened.TrySetException(new InvalidOperationException($"the node at {NodeAddress} closed the session: {reason}"));
        foreach (var id in _pending.Keys)
        {
            if (_pending.TryRemove(id, out var handle))
            {
                handle.Complete(Lost(id, reason));
            }
        }

        foreach (var caller in _actorCallers.Values)
        {
            caller.OnSessionEnded(reason);
        }
    }

    private static PutObject ToPut(ObjectReady ready) => ready.ResultCase == ObjectReady.ResultOneofCase.Error
        ? new PutObject { ObjectId = ready.ObjectId, Error = ready.Error }
        : new PutObject { ObjectId = ready.ObjectId, Value = ready.Value };

    private ObjectReady Lost(string id, string reason) => new()
    {
        ObjectId = id,
        Error = new TaskError { Kind = ErrorKind.ObjectLost, Message = $"object {id} is lost: the connection to node {NodeAddress} ended ({reason})" },
    };

    internal readonly struct BlockedScope(NodeSession session) : IDisposable
    {
        public void Dispose()
        {
            if (session._reportsBlocking && Interlocked.Decrement(ref session._blocked) == 0)
            {
                session._requests.TryWrite(new ClientRequest { Blocked = new WorkerBlocked { Blocked = false, WorkId = session._blockedWorkId } });
            }
        }
    }
}
