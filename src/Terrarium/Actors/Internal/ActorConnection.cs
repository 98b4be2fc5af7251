using System.Net.Sockets;
using System.Security.Authentication;
using Terrarium.Protocol;
using Terrarium.Protocol.Framing;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Actors;

/// <summary>
/// One caller's framed connection to one incarnation of an actor's worker: calls go out at once
/// when the connection is idle, batched when it is busy; results come back in the order the actor
/// ran them. When the connection ends for any reason, its caller is told.
/// </summary>
internal sealed class ActorConnection : IAsyncDisposable
{
    // How long a cancel waits for the worker to say it holds it.
    private static readonly TimeSpan CancelAnswerPatience = TimeSpan.FromSeconds(5);
    private readonly IReadOnlyList<Endpoint> _addresses;
    private readonly ClusterCredentials _credentials;
    private readonly string _actorId;
    private readonly Task<FramedConnection> _connection;
    private readonly FramedBatchWriter<ActorCall, ActorCallBatch> _calls;
    private readonly Task _reader;
    // Calls sent and not answered: a caller with none in flight is waiting on the one it sends.
    private int _inFlight;

    /// <param name="addresses">Where the worker serves the actor, best first (its Unix socket, for a caller of its machine).</param>
    /// <param name="credentials">The cluster's token and TLS trust.</param>
    /// <param name="actorId">The actor the worker must be serving.</param>
    /// <param name="onResult">Called with each call's result, in the order the actor ran them.</param>
    /// <param name="onEnded">Called once when the connection ends, for any reason.</param>
    public ActorConnection(IReadOnlyList<Endpoint> addresses, ClusterCredentials credentials, string actorId, Action<WorkDone> onResult, Action<ActorConnection> onEnded)
    {
        _addresses = addresses;
        _credentials = credentials;
        _actorId = actorId;
        _connection = ActorFrames.OpenAsync(addresses, credentials, actorId, CancellationToken.None);
        _calls = new FramedBatchWriter<ActorCall, ActorCallBatch>(_connection, ActorFrames.Calls, () => new ActorCallBatch(), (b, c) => b.Calls.Add(c));
        _reader = ReadAsync(onResult, onEnded);
    }

    /// <summary>
    /// Sends a call: at once, on this thread, when nothing else is in flight (a caller awaiting each
    /// call); batched with the next ones otherwise. False when the connection has ended (its caller
    /// hears of it separately).
    /// </summary>
    public bool TrySend(ActorCall call) => _calls.TryWrite(call, now: Interlocked.Increment(ref _inFlight) == 1);

    /// <summary>Asks the worker to cancel a call sent on this connection (it may have finished meanwhile).</summary>
    public async Task CancelAsync(string callId, CancellationToken ct)
    {
        try
        {
            await using var connection = await ActorFrames.OpenAsync(_addresses, _credentials, _actorId, ct).ConfigureAwait(false);
            await connection.SendAsync(ActorFrames.Cancel, new CancelActorCalls { WorkIds = { callId } }, ct).ConfigureAwait(false);
            // Returns once the worker holds the cancel, or closed the connection (it refused the
            // caller, or is gone) — or after a while: an older worker never answers, a stuck one late.
            using var patience = CancellationTokenSource.CreateLinkedTokenSource(ct);
            patience.CancelAfter(CancelAnswerPatience);
            await connection.ReadAsync(patience.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (IsConnectionFailure(e) && !ct.IsCancellationRequested)
        {
            // The worker is gone: the call fails with how it ended, which says more than a cancel.
        }
    }

    public ValueTask DisposeAsync() => new(CloseAsync());

    /// <summary>Ends the connection; the results not read by then are not waited for.</summary>
    public async Task CloseAsync()
    {
        _calls.Complete();
        try
        {
            await (await _connection.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (IsConnectionFailure(e))
        {
            // It never opened: the reader has ended already.
        }

        await _reader.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task ReadAsync(Action<WorkDone> onResult, Action<ActorConnection> onEnded)
    {
        await Task.Yield();
        try
        {
            var connection = await _connection.ConfigureAwait(false);
            while (await connection.ReadAsync().ConfigureAwait(false) is { } frame)
            {
                if (frame.Type == ActorFrames.Cancelled)
                {
                    // Not this connection's to hear (cancels have their own); never a refusal.
                    continue;
                }

                if (frame.Type != ActorFrames.Results)
                {
                    // Refused (another actor took over the address, or this one is shutting down)
                    // or something unexpected: either way the node knows what became of the actor.
                    break;
                }

                foreach (var result in ActorResultBatch.Parser.ParseFrom(frame.Payload).Results)
                {
                    Interlocked.Decrement(ref _inFlight);
                    onResult(result);
                }
            }
        }
        catch (Exception e) when (IsConnectionFailure(e))
        {
            // The worker is gone or refused the connection; the node knows what became of the actor.
        }
        finally
        {
            _calls.Complete();
            onEnded(this);
        }
    }

    private static bool IsConnectionFailure(Exception e) =>
        e is IOException or SocketException or ObjectDisposedException or InvalidOperationException or UnauthorizedAccessException
            or AuthenticationException or OperationCanceledException;
}
