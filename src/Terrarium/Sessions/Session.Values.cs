using System.Net.Sockets;
using System.Security.Authentication;
using Google.Protobuf;
using Grpc.Core;
using Terrarium.Objects;
using Terrarium.Protocol;
using Terrarium.Protocol.Framing;
using Terrarium.Protocol.Objects;
using Terrarium.Protocol.SharedMemory;
using Terrarium.Protocol.Transport;

namespace Terrarium.Sessions;

/// <summary>
/// How values reach the node beside the requests that depend on them: puts, promises and their
/// fulfilment, copies from other nodes, uploads of large values, and fetches of large results.
/// </summary>
internal sealed partial class Session
{
    /// <summary>
    /// Makes sure the node will hold an object this process holds, before a request that depends
    /// on it is sent: a put if the value is here, else a promise now and the put when it comes. An
    /// object of another node (a task's result there) comes the same way, except a large one, which
    /// this node copies from that node — unless <paramref name="throughThisProcess"/>: that node may
    /// be dead, and this process makes the object again if it is.
    /// </summary>
    public void ShareWithNode(ObjectHandle handle, bool throughThisProcess = false)
    {
        if (handle.Session == this ? !handle.MarkOnNode() : !handle.AddCopyOn(this))
        {
            return;
        }

        if (handle.Ready.IsCompleted && InOneRequest(handle, throughThisProcess) is { } request)
        {
            Send(request);
            return;
        }

        Send(new ClientRequest { Promise = new PromiseObject { ObjectId = handle.Id } });
        _ = handle.Ready.ContinueWith(
            _ => FulfilPromise(handle, throughThisProcess),
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>
    /// Stores a value on the node for the requests sent after this one (a put): in the stream when
    /// it is small; a large one is promised now and uploaded beside the stream in pieces.
    /// </summary>
    /// <exception cref="InvalidOperationException">The session has ended.</exception>
    public void PutValue(ObjectHandle handle, ByteString value)
    {
        if (value.Length <= MessageLimits.InlineValueBytes)
        {
            Send(new ClientRequest { Put = new PutObject { ObjectId = handle.Id, Value = value } });
            return;
        }

        Send(new ClientRequest { Promise = new PromiseObject { ObjectId = handle.Id } });
        _ = UploadAsync(handle, value);
    }

    /// <summary>
    /// The one request that gives the node a ready object — its error, its small value, or a copy
    /// from the node that holds it — or null when its value must come through this process first,
    /// or is too large for the stream.
    /// </summary>
    private static ClientRequest? InOneRequest(ObjectHandle handle, bool throughThisProcess)
    {
        var ready = handle.Ready.Result;
        return ready.ResultCase switch
        {
            ObjectReady.ResultOneofCase.Error => new ClientRequest { Put = new PutObject { ObjectId = ready.ObjectId, Error = ready.Error } },
            ObjectReady.ResultOneofCase.StoredLength => throughThisProcess || MustComeThroughHere(handle) ? null
                : new ClientRequest { Copy = new CopyObject { ObjectId = ready.ObjectId, FromNodeId = handle.Session.NodeId } },
            _ => ready.Value.Length <= MessageLimits.InlineValueBytes ? new ClientRequest { Put = new PutObject { ObjectId = ready.ObjectId, Value = ready.Value } } : null,
        };
    }

    /// <summary>Fulfils this session's promise of an object that is now ready.</summary>
    private void FulfilPromise(ObjectHandle handle, bool throughThisProcess)
    {
        if (InOneRequest(handle, throughThisProcess) is { } request)
        {
            TrySend(request);
            return;
        }

        // The value comes through this process (fetched, or made again if its node is gone), then goes up.
        _ = handle.ValueAsync().ContinueWith(
            value =>
            {
                var ready = value.Result;
                if (ready.ResultCase != ObjectReady.ResultOneofCase.Value)
                {
                    TrySend(new ClientRequest { Put = new PutObject { ObjectId = ready.ObjectId, Error = ready.Error } });
                }
                else if (ready.Value.Length <= MessageLimits.InlineValueBytes)
                {
                    TrySend(new ClientRequest { Put = new PutObject { ObjectId = ready.ObjectId, Value = ready.Value } });
                }
                else
                {
                    _ = UploadAsync(handle, ready.Value);
                }
            },
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>
    /// Sends a promised value too large for the stream — written into the node's shared-memory store
    /// when the node is on this machine, else uploaded (UploadValue) — then puts it by name; if the
    /// upload fails, the promise fails with why. The handle lives until the put is sent: its release
    /// must not overtake it (tasks waiting on the promise would wait forever).
    /// </summary>
    private async Task UploadAsync(ObjectHandle handle, ByteString value)
    {
        var id = handle.Id;
        PutObject put;
        try
        {
            var opened = await Opened.ConfigureAwait(false);
            if (StageOnThisMachine(opened, value) is { } stored)
            {
                if (!TrySend(new ClientRequest { Put = new PutObject { ObjectId = id, Stored = stored } }))
                {
                    File.Delete(Path.Combine(opened.ObjectStoreStaging, stored.FileName));
                }

                GC.KeepAlive(handle);
                return;
            }

            await UploadValueAsync(opened, id, value).ConfigureAwait(false);
            put = new PutObject { ObjectId = id, Uploaded = true };
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException or ObjectDisposedException or IOException or SocketException or TimeoutException or
            InvalidDataException or UnauthorizedAccessException or AuthenticationException or FrameHandshakeException or ObjectTransferException)
        {
            put = new PutObject
            {
                ObjectId = id,
                Error = new TaskError
                {
                    Kind = ErrorKind.ObjectLost,
                    Message = $"object {id} ({value.Length} bytes) could not be uploaded to node {NodeAddress}: {(e is RpcException rpc ? rpc.Status.Detail : e.Message)}",
                },
            };
        }

        TrySend(new ClientRequest { Put = put });
        GC.KeepAlive(handle);
    }

    /// <summary>This session's node as the object transfer channel reaches it.</summary>
    private static NodeInfo TransferNodeOf(SessionOpened opened) =>
        new() { NodeId = opened.NodeId, ObjectSocket = opened.ObjectSocket, ObjectAddress = opened.ObjectAddress, BootId = opened.BootId };

    /// <summary>
    /// Sends a large value this process puts to its node, for the PutObject that names it as
    /// uploaded: on the object transfer channel, or with UploadValue when the node gave no transfer
    /// address this process can reach.
    /// </summary>
    private async Task UploadValueAsync(SessionOpened opened, string id, ByteString value)
    {
        if (opened.ObjectSocket.Length > 0 || opened.ObjectAddress.Length > 0)
        {
            var node = TransferNodeOf(opened);
            try
            {
                await _transfers.PutAsync(node, opened.SessionId, id, value.Memory, CancellationToken.None).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (ObjectTransferClient.IsUnreachable(e))
            {
                // The channel cannot be reached from here (a firewall, say): the node's gRPC service takes it.
            }
        }

        using var call = _client.UploadValue(new Metadata { { UploadHeaders.SessionId, opened.SessionId }, { UploadHeaders.ObjectId, id } });
        await ObjectChunks.WriteAsync(value, call.RequestStream, CancellationToken.None).ConfigureAwait(false);
        await call.RequestStream.CompleteAsync().ConfigureAwait(false);
        await call.ResponseAsync.ConfigureAwait(false);
    }

    /// <summary>
    /// Writes a large value this process puts into the node's shared-memory staging folder, when the
    /// node is on this machine and offers one this user can write to; null otherwise (then it is uploaded).
    /// </summary>
    private static StoredValue? StageOnThisMachine(SessionOpened opened, ByteString value)
    {
        if (opened.ObjectStoreStaging.Length == 0 || MachineIdentity.BootId.Length == 0 || opened.BootId != MachineIdentity.BootId)
        {
            return null;
        }

        try
        {
            return StagedValue.Write(opened.ObjectStoreStaging, value);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Full, or another user's node: the value goes up the wire instead.
            return null;
        }
    }

    /// <summary>
    /// A large result whose node was declared dead, or whose task ran again elsewhere, is not
    /// copied from a node: its value is fetched (or rebuilt) here and put.
    /// </summary>
    private static bool MustComeThroughHere(ObjectHandle handle) =>
        handle.Ready.Result.ResultCase == ObjectReady.ResultOneofCase.StoredLength && (handle.Session.IsAbandoned || handle.Rebuilt);

    /// <summary>
    /// The value of a large result that stayed on this session's node: mapped from the node's
    /// shared-memory store when this process can, else fetched in pieces; a node that cannot send
    /// it makes the object lost, with why.
    /// </summary>
    public async Task<ObjectReady> FetchAsync(ObjectHandle handle, ObjectReady stored)
    {
        if (MapOnThisMachine(stored) is { } mapped)
        {
            return new ObjectReady { ObjectId = handle.Id, Value = mapped };
        }

        try
        {
            return new ObjectReady { ObjectId = handle.Id, Value = await FetchValueAsync(handle.Id).ConfigureAwait(false) };
        }
        catch (Exception e) when (e is RpcException or InvalidDataException or ObjectDisposedException or IOException or SocketException or TimeoutException or
            UnauthorizedAccessException or AuthenticationException or FrameHandshakeException or ObjectTransferException)
        {
            var reason = _abandoned ?? (e is RpcException rpc ? rpc.Status.Detail : e.Message);
            return LostBecause(handle, $"it stayed on node {NodeAddress}, which could not send it ({reason})");
        }
    }

    /// <summary>
    /// A large value fetched from this session's node into this process's memory: on the object
    /// transfer channel, or with FetchObject from a node that did not give its transfer addresses.
    /// </summary>
    private async Task<ByteString> FetchValueAsync(string objectId)
    {
        var opened = await Opened.ConfigureAwait(false);
        if (opened.ObjectSocket.Length > 0 || opened.ObjectAddress.Length > 0)
        {
            var node = TransferNodeOf(opened);
            try
            {
                using var buffer = await _transfers.FetchAsync(node, objectId, length => new BufferSink(length), CancellationToken.None).ConfigureAwait(false);
                return buffer.Value;
            }
            catch (Exception e) when (ObjectTransferClient.IsUnreachable(e))
            {
                // This process cannot reach the channel (a firewall lets only the node's gRPC port
                // through, say): the node's gRPC service sends it instead.
            }
        }

        using var call = _client.FetchObject(new FetchObjectRequest { ObjectId = objectId });
        return await ObjectChunks.ReadAsync(call.ResponseStream, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>
    /// The value of a large result mapped from the node's shared-memory store, when the node is on
    /// this machine and its store file is this user's; null otherwise (then it is fetched).
    /// </summary>
    private ByteString? MapOnThisMachine(ObjectReady stored)
    {
        if (stored.StoredPath.Length == 0 || MachineIdentity.BootId.Length == 0 ||
            !Opened.IsCompletedSuccessfully || Opened.Result.BootId != MachineIdentity.BootId ||
            !StoreLayout.OwnerIsAlive(StoreLayout.NodeFolderOf(stored.StoredPath)))
        {
            return null;
        }

        try
        {
            return MappedValue.Map(stored.StoredPath, stored.StoredLength);
        }
        catch (IOException)
        {
            // Released meanwhile, or not this user's to read: the node serves it, or says why it cannot.
            return null;
        }
    }
}
