using Grpc.Core;
using Microsoft.Extensions.Logging;
using Terrarium.Node.Membership;
using Terrarium.Node.Service;
using Terrarium.Protocol;
using Terrarium.Protocol.Objects;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.SharedMemory;
using Terrarium.Protocol.Transport;

namespace Terrarium.Node.Objects;

/// <summary>
/// Copies objects other nodes hold to this one, for the tasks here that depend on them: the value
/// comes straight from the node that made it, on the object transfer channel, into this node's
/// shared-memory store (or its own memory, when it has no store or the store is full), and
/// fulfils the owner's promise of it.
/// </summary>
internal sealed class ObjectCopier(NodeOptions options, ClusterCredentials credentials, ObjectStore objects, HeadLink head, ILogger<ObjectCopier> logger) : IAsyncDisposable
{
    private readonly ObjectTransferClient _transfers = new(credentials);
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
            catch (Exception e)
            {
                // Whatever went wrong, the object fails saying why: a promise left pending would hang its tasks.
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

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _transfers.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task<Google.Protobuf.ByteString> FetchAsync(CopyObject copy, CancellationToken ct)
    {
        var from = await head.NodeAsync(copy.FromNodeId, ct).ConfigureAwait(false);
        if (objects.Shared is { } shared)
        {
            // Straight into this node's store: workers here map the copy instead of fetching it.
            try
            {
                var staging = InStore(() => shared.StagingFor(CopiesStaging));
                using var file = await _transfers.FetchAsync(from, copy.ObjectId, length => InStore(() => StagedValue.Open(staging, length)), ct).ConfigureAwait(false);
                return InStore(() => shared.TakeOver(file.Seal(), staging));
            }
            catch (StoreUnavailableException)
            {
                // The store is full, or its folder cannot be written: this copy is kept in the node's own memory.
            }
        }

        using var buffer = await _transfers.FetchAsync(from, copy.ObjectId, length => new BufferSink(length), ct).ConfigureAwait(false);
        return buffer.Value;
    }

    /// <summary>Runs a step of storing the copy; its failure is the store's, told apart from the transfer's.</summary>
    private static T InStore<T>(Func<T> step)
    {
        try
        {
            return step();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StoreUnavailableException(e);
        }
    }

    private sealed class StoreUnavailableException(Exception inner) : Exception(inner.Message, inner);
}
