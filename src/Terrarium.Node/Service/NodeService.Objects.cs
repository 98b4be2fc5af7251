using Grpc.Core;
using Terrarium.Node.Objects;
using Terrarium.Node.Sessions;
using Terrarium.Protocol;
using Terrarium.Protocol.Transport;

namespace Terrarium.Node.Service;

/// <summary>Objects' values: fetched by other nodes and workers, uploaded by workers and clients, put and copied by sessions.</summary>
internal sealed partial class NodeService
{
    public override async Task FetchObject(FetchObjectRequest request, IServerStreamWriter<ObjectChunk> responseStream, ServerCallContext context)
    {
        var held = objects.Find(request.ObjectId)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"node {options.NodeId} does not hold object '{request.ObjectId}' (released or never created)"));
        var result = await held.WaitAsync(context.CancellationToken).ConfigureAwait(false);
        if (result.Error is { } error)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"object '{request.ObjectId}' has no value: {error.Message}"));
        }

        await ObjectChunks.WriteAsync(result.Value!, responseStream, context.CancellationToken).ConfigureAwait(false);
    }

    public override async Task FetchArgument(FetchArgumentRequest request, IServerStreamWriter<ObjectChunk> responseStream, ServerCallContext context)
    {
        var value = tasks.AssignedArgument(request.WorkId, request.Index)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"no worker of node {options.NodeId} has task '{request.WorkId}' with an argument {request.Index}"));
        await ObjectChunks.WriteAsync(value, responseStream, context.CancellationToken).ConfigureAwait(false);
    }

    public override async Task<UploadResultReply> UploadResult(IAsyncStreamReader<ObjectChunk> requestStream, ServerCallContext context)
    {
        await pool.ReceiveUploadAsync(
            context.RequestHeaders.GetValue(UploadHeaders.WorkerId) ?? "", context.RequestHeaders.GetValue(UploadHeaders.WorkId) ?? "",
            requestStream, context.CancellationToken).ConfigureAwait(false);
        return new UploadResultReply();
    }

    public override async Task<UploadValueReply> UploadValue(IAsyncStreamReader<ObjectChunk> requestStream, ServerCallContext context)
    {
        var sessionId = context.RequestHeaders.GetValue(UploadHeaders.SessionId) ?? "";
        var objectId = context.RequestHeaders.GetValue(UploadHeaders.ObjectId) ?? "";
        if (objectId.Length == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"UploadValue needs the {UploadHeaders.ObjectId} header"));
        }

        var session = detached.Find(sessionId)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"node {options.NodeId} has no session '{sessionId}' (header {UploadHeaders.SessionId})"));

        try
        {
            session.Uploads[objectId] = await ObjectChunks.ReadAsync(requestStream, context.CancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"the value of {objectId} did not arrive whole: {e.Message}"));
        }

        return new UploadValueReply();
    }

    private void Put(Session session, PutObject put)
    {
        var result = put.Error is { } error ? ObjectResult.Failed(error)
            : put.Stored is { } stored ? TakeOver(session, put.ObjectId, stored)
            : !put.Uploaded ? new ObjectResult(put.Value, null)
            : session.Uploads.TryRemove(put.ObjectId, out var uploaded) ? new ObjectResult(uploaded, null)
            : ObjectResult.Failed(new TaskError { Kind = ErrorKind.ObjectLost, Message = $"object {put.ObjectId} was put as uploaded, but no upload of it reached node {options.NodeId}" });
        if (put.Uploaded || put.Stored is not null)
        {
            // An upload only ever fulfils the session's promise: it never makes an object of its own.
            // A value that fulfils no promise leaves the store at once (TryFulfil sees to it).
            if (!objects.TryFulfil(put.ObjectId, session, result))
            {
                NodeLog.InvalidRequest(logger, session.Id, $"PutObject with an upload or a stored value needs this session's promise of the object (got '{put.ObjectId}')");
            }
        }
        else if (string.IsNullOrEmpty(put.ObjectId) || !objects.TryPut(put.ObjectId, session, result))
        {
            NodeLog.InvalidRequest(logger, session.Id, $"PutObject needs an object_id not in use, or promised by this session (got '{put.ObjectId}')");
        }
    }

    /// <summary>A value a client of this machine wrote into the shared-memory store's staging folder.</summary>
    private ObjectResult TakeOver(Session session, string objectId, StoredValue stored)
    {
        try
        {
            // Only from the session's own staging folder: it cannot hand over what another wrote.
            return new ObjectResult(objects.Shared is { } shared
                ? shared.TakeOver(stored, shared.StagingFor(session.Id))
                : throw new IOException("this node has no shared-memory store"), null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ObjectResult.Failed(new TaskError
            {
                Kind = ErrorKind.ObjectLost,
                Message = $"object {objectId} was put as written to the shared-memory store of node {options.NodeId}, which cannot take it: {e.Message}",
            });
        }
    }

    private void Copy(Session session, CopyObject copy)
    {
        if (string.IsNullOrEmpty(copy.ObjectId) || string.IsNullOrEmpty(copy.FromNodeId) || !objects.TryPromiseCopy(copy.ObjectId, session))
        {
            NodeLog.InvalidRequest(logger, session.Id, $"CopyObject needs from_node_id and an object_id not in use, or promised by this session (got '{copy.ObjectId}' from '{copy.FromNodeId}')");
            return;
        }

        copier.Start(copy);
    }
}
