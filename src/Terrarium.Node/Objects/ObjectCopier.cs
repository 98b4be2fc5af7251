using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Terrarium.Node.Membership;
using Terrarium.Node.Service;
using Terrarium.Protocol;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.SharedMemory;
using Terrarium.Protocol.Transport;

namespace Terrarium.Node.Objects;

/// <summary>
/// Copies objects other nodes hold to this one, for the tasks here that depend on them: the value
/// comes straight from the node that made it, in pieces, and fulfils the owner's promise of it.
/// </summary>
internal sealed class ObjectCopier(NodeOptions options, ClusterCredentials credentials, ObjectStore objects, HeadLink head, ILogger<ObjectCopier> logger) : IDisposable
{
    // One channel per other node, by address: copies from the same node share its connection.
    private readonly ConcurrentDictionary<string, (GrpcChannel Channel, Protocol.Node.NodeClient Client)> _peers = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    // The staging folder copies are received into (workers and sessions each have their own).
    private const string CopiesStaging = "node-copies";

    /// <summary>Starts copying; the object fails with ObjectLost, naming why, if the copy cannot be made.</summary>
    public void Start(CopyObject copy)
    {
        _ = Task.Run(async () =>
        {
            ObjectResult result;
            try
            {
                result = new ObjectResult(await FetchAsync(copy, _stopping.Token).ConfigureAwait(false), null);
                NodeLog.ObjectCopied(logger, copy.ObjectId, copy.FromNodeId);
            }
            catch (Exception e) when (e is RpcException or KeyNotFoundException or FormatException or InvalidDataException or OperationCanceledException)
            {
                var reason = e is RpcException rpc ? rpc.Status.Detail : e.Message;
                result = ObjectResult.Failed(new TaskError
                {
                    Kind = ErrorKind.ObjectLost,
                    Message = $"object {copy.ObjectId} could not be copied from node {copy.FromNodeId} to node {options.NodeId}: {reason}",
                });
            }

            objects.Fulfil(copy.ObjectId, result);
        });
    }

    public void Dispose()
    {
        _stopping.Cancel();
        foreach (var (channel, _) in _peers.Values)
        {
            channel.Dispose();
        }

        _stopping.Dispose();
    }

    private async Task<Google.Protobuf.ByteString> FetchAsync(CopyObject copy, CancellationToken ct)
    {
        var address = await head.NodeAddressAsync(copy.FromNodeId, ct).ConfigureAwait(false);
        var (_, client) = _peers.GetOrAdd(address.ToString(), _ =>
        {
            var (channel, invoker) = ClusterChannel.Open(address, credentials);
            return (channel, new Protocol.Node.NodeClient(invoker));
        });
        if (objects.Shared is { } shared)
        {
            try
            {
                // Straight into this node's store: workers here map the copy instead of fetching it.
                var staging = shared.StagingFor(CopiesStaging);
                using var intoStore = client.FetchObject(new FetchObjectRequest { ObjectId = copy.ObjectId }, cancellationToken: ct);
                return shared.TakeOver(await StagedValue.ReceiveAsync(staging, intoStore.ResponseStream, ct).ConfigureAwait(false), staging);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The store is full, or its folder cannot be written: this copy is kept in the node's own memory.
            }
        }

        using var call = client.FetchObject(new FetchObjectRequest { ObjectId = copy.ObjectId }, cancellationToken: ct);
        return await ObjectChunks.ReadAsync(call.ResponseStream, ct).ConfigureAwait(false);
    }
}
