using System.Collections.Concurrent;
using System.Net.Sockets;
using Terrarium.Protocol.Framing;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.SharedMemory;
using Terrarium.Protocol.Transport;

namespace Terrarium.Protocol.Objects;

/// <summary>
/// Fetches values from nodes on the object transfer channel (<see cref="ObjectTransfer"/>): from a
/// node of this machine on its Unix socket, with no TLS to pay for; from any other over TCP with
/// TLS. A few idle connections per node are kept for the next fetch.
/// </summary>
public sealed class ObjectTransferClient(ClusterCredentials credentials) : IAsyncDisposable
{
    private const int IdlePerAddress = 4;
    private readonly ConcurrentDictionary<Endpoint, ConcurrentBag<FramedConnection>> _idle = new();
    private volatile bool _disposed;

    /// <summary>
    /// Fetches object <paramref name="objectId"/> from <paramref name="node"/> into the sink
    /// <paramref name="open"/> makes for its length; the caller owns the sink returned.
    /// </summary>
    /// <exception cref="ObjectTransferException">The node has no value to send (or no address to fetch from), and says why.</exception>
    /// <exception cref="InvalidDataException">The connection ended inside the value, or the node broke the protocol.</exception>
    /// <exception cref="IOException">The connection failed.</exception>
    /// <exception cref="SocketException">The node cannot be reached.</exception>
    public Task<TSink> FetchAsync<TSink>(NodeInfo node, string objectId, Func<long, TSink> open, CancellationToken ct)
        where TSink : ValueSink
    {
        ArgumentNullException.ThrowIfNull(node);
        var fetch = new ObjectFetch { ObjectId = objectId, NodeId = node.NodeId };
        return ExchangeAsync(node, (connection, started) => ObjectTransfer.FetchAsync(connection, fetch, length =>
        {
            // The node answered: a failure from here on is not the idle connection's.
            started();
            return open(length);
        }, ct), ct);
    }

    /// <summary>Puts <paramref name="value"/> on <paramref name="node"/> for its session <paramref name="sessionId"/>, as object <paramref name="objectId"/>.</summary>
    /// <exception cref="ObjectTransferException">The node did not take it (or has no address to put to), and says why.</exception>
    /// <exception cref="IOException">The connection failed.</exception>
    /// <exception cref="SocketException">The node cannot be reached.</exception>
    public Task PutAsync(NodeInfo node, string sessionId, string objectId, ReadOnlyMemory<byte> value, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(node);
        return ExchangeAsync(node, async (connection, _) =>
        {
            await ObjectTransfer.PutAsync(connection, node.NodeId, sessionId, objectId, value, ct).ConfigureAwait(false);
            return true;
        }, ct);
    }

    /// <summary>Where <paramref name="node"/> serves transfers, best first: its Unix socket if it is on this machine, then TCP.</summary>
    public static IReadOnlyList<Endpoint> AddressesOf(NodeInfo node)
    {
        ArgumentNullException.ThrowIfNull(node);
        var addresses = new List<Endpoint>(2);
        if (node.ObjectSocket.Length > 0 && node.BootId.Length > 0 && node.BootId == MachineIdentity.BootId)
        {
            addresses.Add(Endpoint.UnixSocket(node.ObjectSocket));
        }

        if (node.ObjectAddress.Length > 0)
        {
            addresses.Add(Endpoint.Parse(node.ObjectAddress));
        }

        return addresses;
    }

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        foreach (var idle in _idle.Values)
        {
            while (idle.TryTake(out var connection))
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Runs one exchange with <paramref name="node"/>, at the first of its addresses this process can reach.</summary>
    private async Task<T> ExchangeAsync<T>(NodeInfo node, Func<FramedConnection, Action, Task<T>> exchange, CancellationToken ct)
    {
        var addresses = AddressesOf(node);
        if (addresses.Count == 0)
        {
            throw new ObjectTransferException($"node {node.NodeId} has no object transfer address this process can reach", wrongNode: false);
        }

        for (var i = 0; ; i++)
        {
            try
            {
                return await ExchangeWithAsync(addresses[i], exchange, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (i < addresses.Count - 1 && IsUnreachable(e))
            {
                // The Unix socket is not this process's to reach (another mount namespace, say): TCP next.
            }
        }
    }

    private async Task<T> ExchangeWithAsync<T>(Endpoint address, Func<FramedConnection, Action, Task<T>> exchange, CancellationToken ct)
    {
        var idle = _idle.GetOrAdd(address, _ => []);
        if (idle.TryTake(out var reused))
        {
            var started = false;
            try
            {
                return await ExchangeOnAsync(address, reused, connection => exchange(connection, () => started = true)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or InvalidDataException && !started)
            {
                // The node closed the idle connection (it restarted, say): once more on a new one.
            }
        }

        var fresh = await FramedClient.ConnectAsync(address, credentials, ObjectTransfer.MaxFrameBytes, ct).ConfigureAwait(false);
        return await ExchangeOnAsync(address, fresh, connection => exchange(connection, () => { })).ConfigureAwait(false);
    }

    private async Task<T> ExchangeOnAsync<T>(Endpoint address, FramedConnection connection, Func<FramedConnection, Task<T>> exchange)
    {
        T result;
        try
        {
            result = await exchange(connection).ConfigureAwait(false);
        }
        catch (ObjectTransferException e) when (!e.WrongNode)
        {
            // The node said why: the connection is as good as before.
            KeepIdle(address, connection);
            throw;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        KeepIdle(address, connection);
        return result;
    }

    private void KeepIdle(Endpoint address, FramedConnection connection)
    {
        var idle = _idle.GetOrAdd(address, _ => []);
        if (!_disposed && idle.Count < IdlePerAddress)
        {
            idle.Add(connection);
            if (_disposed && idle.TryTake(out var late))
            {
                // Disposed meanwhile: nothing will take it from the pool again.
                _ = late.DisposeAsync().AsTask();
            }
        }
        else
        {
            _ = connection.DisposeAsync().AsTask();
        }
    }

    /// <summary>Whether <paramref name="e"/> says the address could not be reached (or is another node's), as opposed to a transfer that failed.</summary>
    public static bool IsUnreachable(Exception e) => FramedClient.IsUnreachable(e) || e is ObjectTransferException { WrongNode: true };
}
