using Grpc.Core;
using Terrarium.Protocol;

namespace Terrarium.Worker;

/// <summary>
/// Serves the calls of this worker's actor straight to its callers: each caller's calls run in the
/// order they arrive, one call of the actor at a time, and each result goes back on the stream it
/// came from. A call runs on the thread that read it: no queue stands between stream and actor.
/// </summary>
internal sealed class ActorCallService(ActorServer server) : ActorWorker.ActorWorkerBase
{
    /// <summary>The request header naming the actor a caller means to reach.</summary>
    public const string ActorHeader = "terrarium-actor";

    public override Task<CancelActorCallsReply> Cancel(CancelActorCalls request, ServerCallContext context)
    {
        foreach (var callId in request.WorkIds)
        {
            server.Cancel(callId);
        }

        return Task.FromResult(new CancelActorCallsReply());
    }

    public override async Task Calls(IAsyncStreamReader<ActorCallBatch> requestStream, IServerStreamWriter<ActorResultBatch> responseStream, ServerCallContext context)
    {
        var wanted = context.RequestHeaders.GetValue(ActorHeader);
        if (wanted != server.ActorId)
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"this worker hosts actor '{server.ActorId}', not '{wanted}'"));
        }

        var caller = new CallerStream(responseStream, context.CancellationToken);
        if (!server.TryAdd(caller))
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"actor '{server.ActorId}' is shutting down"));
        }

        try
        {
            await foreach (var batch in requestStream.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
            {
                foreach (var call in batch.Calls)
                {
                    caller.Reply(call.Method is null
                        ? new WorkDone { WorkId = call.WorkId, Error = new TaskError { Kind = ErrorKind.InvalidRequest, Message = $"actor call '{call.WorkId}' names no method" } }
                        : await server.RunAsync(call).ConfigureAwait(false));
                }
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // The caller went away; calls of its not read yet go with it.
        }
        finally
        {
            caller.Close();
            server.Remove(caller);
        }

        await caller.Flushed.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
