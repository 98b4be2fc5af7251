using System.Buffers;
using Terrarium.Protocol.Framing;
using Terrarium.Protocol.Transport;

namespace Terrarium.Protocol.Objects;

/// <summary>
/// The object transfer channel (the data plane's bulk half): on a framed connection to a node, the
/// client sends an <see cref="ObjectFetch"/> frame; the node answers with an
/// <see cref="ObjectFetchReply"/> frame that gives the value's length (or why there is none), then
/// exactly that many bytes of the value, unframed, written from where the value lives (its
/// shared-memory mapping, on the node's side) and read straight into where it goes. The connection
/// then serves the next fetch.
/// </summary>
public static class ObjectTransfer
{
    /// <summary>Client → node: an <see cref="ObjectFetch"/>.</summary>
    public const byte Fetch = 1;

    /// <summary>Node → client: an <see cref="ObjectFetchReply"/>.</summary>
    public const byte Reply = 2;

    /// <summary>Client → node: an <see cref="ObjectPut"/>, then the value's bytes.</summary>
    public const byte Put = 3;

    /// <summary>Node → client: an <see cref="ObjectPutReply"/>.</summary>
    public const byte PutReply = 4;

    /// <summary>The largest frame either end sends or accepts: the values themselves go outside frames.</summary>
    public const int MaxFrameBytes = 64 << 10;

    /// <summary>The size of the writes a value is sent in, and of the reads it is received in.</summary>
    public const int PieceBytes = 1 << 20;

    /// <summary>
    /// Fetches one value on <paramref name="connection"/> into the sink <paramref name="open"/> makes
    /// for its length; the caller owns the sink returned, which holds the whole value.
    /// </summary>
    /// <exception cref="ObjectTransferException">The node has no value to send, and says why.</exception>
    /// <exception cref="InvalidDataException">The node broke the protocol, or the connection ended inside the value.</exception>
    public static async Task<TSink> FetchAsync<TSink>(FramedConnection connection, ObjectFetch fetch, Func<long, TSink> open, CancellationToken ct)
        where TSink : ValueSink
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(open);
        await connection.SendAsync(Fetch, fetch, ct).ConfigureAwait(false);
        var reply = await connection.ReadAsync(ct).ConfigureAwait(false) is { Type: Reply } frame
            ? ObjectFetchReply.Parser.ParseFrom(frame.Payload)
            : throw new InvalidDataException($"the node did not answer the fetch of object {fetch.ObjectId} as a Terrarium node does");
        if (reply.Error.Length > 0)
        {
            throw new ObjectTransferException(reply.Error, reply.WrongNode);
        }

        if (reply.Length < 0)
        {
            throw new InvalidDataException($"the node announced a value of {reply.Length} bytes for object {fetch.ObjectId}");
        }

        return await ReceiveAsync(connection, reply.Length, open, $"object {fetch.ObjectId}", ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Puts <paramref name="value"/> on <paramref name="connection"/> for session
    /// <paramref name="sessionId"/> of node <paramref name="nodeId"/>: the put, its bytes, then the
    /// node's answer.
    /// </summary>
    /// <exception cref="ObjectTransferException">The node did not take the value, and says why.</exception>
    /// <exception cref="InvalidDataException">The node broke the protocol.</exception>
    public static async Task PutAsync(FramedConnection connection, string nodeId, string sessionId, string objectId, ReadOnlyMemory<byte> value, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(connection);
        await connection.SendAsync(Put, new ObjectPut { NodeId = nodeId, SessionId = sessionId, ObjectId = objectId, Length = value.Length }, ct).ConfigureAwait(false);
        await SendBytesAsync(connection, value, ct).ConfigureAwait(false);
        var reply = await connection.ReadAsync(ct).ConfigureAwait(false) is { Type: PutReply } frame
            ? ObjectPutReply.Parser.ParseFrom(frame.Payload)
            : throw new InvalidDataException($"the node did not answer the put of object {objectId} as a Terrarium node does");
        if (reply.Error.Length > 0)
        {
            throw new ObjectTransferException(reply.Error, reply.WrongNode);
        }
    }

    /// <summary>
    /// Receives the <paramref name="length"/> bytes that follow a put (or anything else that
    /// announced them) into the sink <paramref name="open"/> makes for them.
    /// </summary>
    /// <exception cref="InvalidDataException">The connection ended inside the value.</exception>
    public static async Task<TSink> ReceiveAsync<TSink>(FramedConnection connection, long length, Func<long, TSink> open, string what, CancellationToken ct)
        where TSink : ValueSink
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(open);
        var sink = open(length);
        byte[]? piece = null;
        try
        {
            while (!sink.IsWhole)
            {
                // Straight into the sink's memory where it has some; else through a piece of ours.
                var window = sink.NextWindow;
                var direct = !window.IsEmpty;
                if (!direct)
                {
                    piece ??= ArrayPool<byte>.Shared.Rent(PieceBytes);
                    window = piece.AsMemory(0, (int)Math.Min(PieceBytes, sink.Length - sink.Filled));
                }

                var read = await connection.ReadRawAsync(window, ct).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new InvalidDataException($"the connection closed after {sink.Filled} of the {sink.Length} bytes of {what}");
                }

                if (direct)
                {
                    sink.Advance(read);
                }
                else
                {
                    sink.Write(window.Span[..read]);
                }
            }

            return sink;
        }
        catch
        {
            sink.Dispose();
            throw;
        }
        finally
        {
            if (piece is not null)
            {
                ArrayPool<byte>.Shared.Return(piece);
            }
        }
    }

    /// <summary>Sends <paramref name="value"/> as a fetch's answer: its length, then its bytes.</summary>
    public static async Task SendValueAsync(FramedConnection connection, ReadOnlyMemory<byte> value, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(connection);
        await connection.SendAsync(Reply, new ObjectFetchReply { Length = value.Length }, ct).ConfigureAwait(false);
        await SendBytesAsync(connection, value, ct).ConfigureAwait(false);
    }

    private static async Task SendBytesAsync(FramedConnection connection, ReadOnlyMemory<byte> value, CancellationToken ct)
    {
        for (var offset = 0; offset < value.Length; offset += PieceBytes)
        {
            await connection.SendRawAsync(value.Slice(offset, Math.Min(PieceBytes, value.Length - offset)), ct).ConfigureAwait(false);
        }
    }
}

/// <summary>A node answered a fetch with no value; the message says why.</summary>
public sealed class ObjectTransferException(string message, bool wrongNode) : Exception(message)
{
    /// <summary>The connection reached a node other than the one asked for (a socket path shared across mount namespaces).</summary>
    public bool WrongNode { get; } = wrongNode;
}
