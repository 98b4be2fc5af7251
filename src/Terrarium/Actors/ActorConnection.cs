using Grpc.Core;
using Grpc.Net.Client;
using Terrarium.Protocol;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Actors;

/// <summary>
/// One caller's stream to one incarnation of an actor's worker: calls go out batched, results come
/// back in the order the actor ran them. When the stream ends for any reason, its caller is told.
/// </summary>
internal sealed class ActorConnection : IAsyncDisposable
{
    private readonly GrpcChannel _channel;
    private readonly CallInvoker _invoker;
    private readonly AsyncDuplexStreamingCall<ActorCallBatch, ActorResultBatch> _call;
    private readonly BatchingWriter<ActorCall, ActorCallBatch> _calls;
    private readonly Task _reader;

    public ActorConnection(Endpoint address, ClusterCredentials credentials, string actorId, Action<WorkDone> onResult, Action<ActorConnection> onEnded)
    {
        (_channel, _invoker) = ClusterChannel.Open(address, credentials);
        _call = new ActorWorker.ActorWorkerClient(_invoker).Calls(new Metadata { { Worker.ActorCallService.ActorHeader, actorId } });
        _calls = new BatchingWriter<ActorCall, ActorCallBatch>(_call.RequestStream, () => new ActorCallBatch(), (b, c) => b.Calls.Add(c), CancellationToken.None);
        _reader = ReadAsync(onResult, onEnded);
    }

    /// <summary>Queues a call; false when the stream has ended (its caller hears of it separately).</summary>
    public bool TrySend(ActorCall call) => _calls.TryWrite(call);

    /// <summary>Asks the worker to cancel a call sent on this stream (it may have finished meanwhile).</summary>
    public async Task CancelAsync(string callId, CancellationToken ct)
    {
        try
        {
            await new ActorWorker.ActorWorkerClient(_invoker)
                .CancelAsync(new CancelActorCalls { WorkIds = { callId } }, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (RpcException)
        {
            // The worker is gone: the call fails with how it ended, which says more than a cancel.
        }
    }

    public ValueTask DisposeAsync() => new(CloseAsync());

    /// <summary>Ends the stream and releases the channel once the results still coming are read.</summary>
    public async Task CloseAsync()
    {
        _calls.Complete();
        _call.Dispose();
        await _reader.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _channel.Dispose();
    }

    private async Task ReadAsync(Action<WorkDone> onResult, Action<ActorConnection> onEnded)
    {
        await Task.Yield();
        try
        {
            await foreach (var batch in _call.ResponseStream.ReadAllAsync().ConfigureAwait(false))
            {
                foreach (var result in batch.Results)
                {
                    onResult(result);
                }
            }
        }
        catch (Exception e) when (e is RpcException or IOException or InvalidOperationException or OperationCanceledException)
        {
            // The worker is gone or refused the stream; the node knows what became of the actor.
        }
        finally
        {
            _calls.Complete();
            onEnded(this);
        }
    }
}
