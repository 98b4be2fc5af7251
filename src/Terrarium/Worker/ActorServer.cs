using System.Collections.Concurrent;
using Terrarium.Actors;
using Terrarium.Protocol;
using Terrarium.Protocol.Framing;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Worker;

/// <summary>
/// Serves this worker's actor straight to its callers, on framed connections (no HTTP server):
/// callers find its address through the node. Each caller's calls are taken in the order they
/// arrive, and each result goes back on the connection it came from. With a concurrency of 1 (the default)
/// and no concurrency groups, one call of the actor runs at a time, on the thread that read it — no
/// queue stands between the connection and the actor. Otherwise each call goes to its group
/// (<see cref="CallGroups"/>) and runs on the thread pool while the next calls are read; once
/// <see cref="MaxWaitingCalls"/> calls wait for a turn, the next is read when one starts
/// (back-pressure). Started once the actor's constructor has run.
/// </summary>
internal sealed class ActorServer
{
    private readonly ConcurrentDictionary<CallerStream, bool> _callers = new();
    /// <summary>How many calls may wait for a turn in their groups before callers wait to send more.</summary>
    internal const int MaxWaitingCalls = 1024;

    private readonly SemaphoreSlim _turn = new(1, 1);
    private readonly SemaphoreSlim _waitingRoom = new(MaxWaitingCalls, MaxWaitingCalls);
    private readonly CallGroups _groups;
    private readonly Func<ActorCall, Task<WorkDone>> _run;
    private readonly Action<string> _cancel;
    private FramedListener? _listener;
    private FramedListener? _unixListener;
    private volatile bool _closing;

    private ActorServer(string actorId, Func<ActorCall, Task<WorkDone>> run, Action<string> cancel, CallGroups groups)
    {
        ActorId = actorId;
        _run = run;
        _cancel = cancel;
        _groups = groups;
    }

    public string ActorId { get; }

    /// <summary>Where callers reach the actor, with an ephemeral TCP port resolved.</summary>
    public string Address => _listener!.Endpoint.ToString();

    /// <summary>The Unix socket it serves as well (for callers of its machine), or empty.</summary>
    public string UnixAddress => _unixListener?.Endpoint.ToString() ?? "";

    /// <param name="actorId">The actor callers must name.</param>
    /// <param name="listenAddress">Where to listen.</param>
    /// <param name="credentials">The cluster token callers must prove they hold, and the certificate a TCP address serves with.</param>
    /// <param name="run">Runs one call of the actor.</param>
    /// <param name="cancel">Cancels a call by id, running or not started yet.</param>
    /// <param name="unixListenAddress">A Unix socket to serve the same calls on as well, or empty.</param>
    /// <param name="groups">The actor's concurrency groups; by default one call runs at a time.</param>
    public static ActorServer Start(string actorId, string listenAddress, ClusterCredentials credentials, Func<ActorCall, Task<WorkDone>> run, Action<string> cancel,
        string unixListenAddress = "", CallGroups? groups = null)
    {
        groups ??= CallGroups.OneAtATime;
        var actorServer = new ActorServer(actorId, run, cancel, groups);
        actorServer._listener = FramedListener.Start(Endpoint.Parse(listenAddress, anyPort: true), credentials, ActorFrames.MaxFrameBytes, actorServer.ServeAsync);
        if (unixListenAddress.Length > 0)
        {
            actorServer._unixListener = FramedListener.Start(Endpoint.Parse(unixListenAddress), credentials, ActorFrames.MaxFrameBytes, actorServer.ServeAsync);
        }

        return actorServer;
    }

    /// <summary>
    /// Ends every caller's connection once it has written what it has, then stops listening,
    /// within the deadline. Used when the process exits (user code called Environment.Exit, or the
    /// node ended the worker): results already produced must still reach their callers.
    /// </summary>
    public void CloseWithin(Task deadline)
    {
        _closing = true;
        var callers = _callers.Keys.ToList();
        foreach (var caller in callers)
        {
            caller.Close();
        }

        Task.WhenAny(Task.WhenAll(callers.Select(c => c.Flushed)), deadline).Wait();
        if (_unixListener is { } unixListener)
        {
            Task.WhenAny(unixListener.DisposeAsync().AsTask(), deadline).Wait();
        }

        if (_listener is { } listener)
        {
            Task.WhenAny(listener.DisposeAsync().AsTask(), deadline).Wait();
        }
    }

    private async Task ServeAsync(FramedConnection connection, CancellationToken ct)
    {
        if (await connection.ReadAsync(ct).ConfigureAwait(false) is not { Type: ActorFrames.Open } open)
        {
            return;
        }

        var wanted = ActorFrames.Text(open);
        if (wanted != ActorId)
        {
            await RefuseAsync(connection, $"this worker hosts actor '{ActorId}', not '{wanted}'", ct).ConfigureAwait(false);
            return;
        }

        var caller = new CallerStream(connection);
        _callers[caller] = true;
        // Added first, then checked: a close that comes between sees this caller and ends it.
        if (_closing)
        {
            _callers.TryRemove(caller, out _);
            await RefuseAsync(connection, $"actor '{ActorId}' is shutting down", ct).ConfigureAwait(false);
            return;
        }

        try
        {
            while (await connection.ReadAsync(ct).ConfigureAwait(false) is { } frame)
            {
                switch (frame.Type)
                {
                    case ActorFrames.Calls:
                        var calls = ActorCallBatch.Parser.ParseFrom(frame.Payload).Calls;
                        for (var i = 0; i < calls.Count; i++)
                        {
                            var call = calls[i];
                            // The last result of what has come goes at once; the others are batched while the next calls run.
                            var last = i == calls.Count - 1 && !connection.HasMoreBuffered;
                            if (call.Method is null)
                            {
                                caller.Reply(new WorkDone { WorkId = call.WorkId, Error = new TaskError { Kind = ErrorKind.InvalidRequest, Message = $"actor call '{call.WorkId}' names no method" } }, last);
                            }
                            else if (!_groups.RunsOneAtATime)
                            {
                                await SendToGroupAsync(call, caller, last, ct).ConfigureAwait(false);
                            }
                            else if (_groups.Refuse(call) is { } refused)
                            {
                                caller.Reply(Refused(call, refused), last);
                            }
                            else
                            {
                                caller.Reply(await RunInTurnAsync(call).ConfigureAwait(false), last);
                            }
                        }

                        break;
                    case ActorFrames.Cancel:
                        foreach (var callId in CancelActorCalls.Parser.ParseFrom(frame.Payload).WorkIds)
                        {
                            _cancel(callId);
                        }

                        // The canceller learns its cancels are held: a call it makes next cannot overtake them.
                        await connection.SendAsync(ActorFrames.Cancelled, new CancelActorCallsReply(), ct).ConfigureAwait(false);

                        break;
                    default:
                        throw new InvalidDataException($"unexpected frame type {frame.Type} from an actor's caller");
                }
            }
        }
        finally
        {
            caller.Close();
            _callers.TryRemove(caller, out _);
        }

        await caller.Flushed.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private static ValueTask RefuseAsync(FramedConnection connection, string why, CancellationToken ct) =>
        connection.SendAsync(ActorFrames.Refused, System.Text.Encoding.UTF8.GetBytes(why), ct);

    /// <summary>Runs a call once no other call of the actor is running: calls of many callers take turns.</summary>
    private async Task<WorkDone> RunInTurnAsync(ActorCall call)
    {
        await _turn.WaitAsync().ConfigureAwait(false);
        try
        {
            return await _run(call).ConfigureAwait(false);
        }
        finally
        {
            _turn.Release();
        }
    }

    /// <summary>Queues a call in its group, once fewer than <see cref="MaxWaitingCalls"/> wait; or refuses it.</summary>
    private async ValueTask SendToGroupAsync(ActorCall call, CallerStream caller, bool last, CancellationToken ct)
    {
        var (queue, refused) = _groups.Choose(call);
        if (queue is null)
        {
            caller.Reply(Refused(call, refused!), last);
            return;
        }

        await _waitingRoom.WaitAsync(ct).ConfigureAwait(false);
        queue.Run(() =>
        {
            _waitingRoom.Release();
            // A caller gone while its call waited hears nothing more: the call need not run.
            return caller.Closed ? Task.CompletedTask : RunAlongsideAsync(call, caller);
        });
    }

    private static WorkDone Refused(ActorCall call, string why) =>
        new() { WorkId = call.WorkId, Error = new TaskError { Kind = ErrorKind.InvalidRequest, Function = call.Method.Method, Message = why } };

    /// <summary>Runs a call that holds a turn of its group, beside the others, and replies when it ends.</summary>
    private async Task RunAlongsideAsync(ActorCall call, CallerStream caller)
    {
        WorkDone done;
        try
        {
            // On the thread pool's global queue (first in, first out): a synchronous method must not
            // hold the connection's reader, and calls taken in order are picked up in order.
            done = await Task.Factory.StartNew(() => _run(call), CancellationToken.None, TaskCreationOptions.PreferFairness, TaskScheduler.Default)
                .Unwrap().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Not the actor's exception (the call's own run reports those): the caller must still hear of its call.
            done = new WorkDone { WorkId = call.WorkId, Error = new TaskError { Kind = ErrorKind.WorkerCrashed, Message = $"actor call '{call.WorkId}' could not run: {e.Message}" } };
        }

        caller.Reply(done, last: true);
    }
}
