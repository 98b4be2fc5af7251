using Google.Protobuf;
using Grpc.Core;

namespace Terrarium.Protocol.Transport;

/// <summary>
/// Large values travel in pieces (the FetchObject RPC): each piece is small enough to be short-lived
/// garbage, and the receiver copies them once into a buffer of the whole length, so that no process
/// on the way holds the value twice or asks the kernel for a message-sized buffer per hop.
/// </summary>
public static class ObjectChunks
{
    /// <summary>The size of a piece: under the large-object heap's threshold, so pieces die young.</summary>
    public const int ChunkBytes = 64 << 10;

    /// <summary>Sends <paramref name="value"/> in pieces that share its memory; the first says the whole length.</summary>
    public static async Task WriteAsync(ByteString value, IAsyncStreamWriter<ObjectChunk> stream, CancellationToken ct)
    {
        var memory = value.Memory;
        var offset = 0;
        do
        {
            var piece = memory.Slice(offset, Math.Min(ChunkBytes, memory.Length - offset));
            await stream.WriteAsync(new ObjectChunk { TotalLength = offset == 0 ? memory.Length : 0, Data = UnsafeByteOperations.UnsafeWrap(piece) }, ct).ConfigureAwait(false);
            offset += piece.Length;
        }
        while (offset < memory.Length);
    }

    /// <summary>Receives a value sent by <see cref="WriteAsync"/> into this process's memory.</summary>
    /// <exception cref="InvalidDataException">The pieces do not add up to the length the first one announced.</exception>
    public static async Task<ByteString> ReadAsync(IAsyncStreamReader<ObjectChunk> stream, CancellationToken ct)
    {
        using var buffer = await ReadAsync(stream, length => new BufferSink(length), ct).ConfigureAwait(false);
        return buffer.Value;
    }

    /// <summary>
    /// Receives a value sent by <see cref="WriteAsync"/> into the sink <paramref name="open"/> makes
    /// for its announced length; the caller owns the sink returned, which holds the whole value.
    /// </summary>
    /// <exception cref="InvalidDataException">The pieces do not add up to the length the first one announced.</exception>
    public static async Task<TSink> ReadAsync<TSink>(IAsyncStreamReader<ObjectChunk> stream, Func<long, TSink> open, CancellationToken ct)
        where TSink : ValueSink
    {
        ArgumentNullException.ThrowIfNull(open);
        if (!await stream.MoveNext(ct).ConfigureAwait(false))
        {
            throw new InvalidDataException("the object's stream ended before its first piece");
        }

        var total = stream.Current.TotalLength;
        if (total < 0)
        {
            throw new InvalidDataException($"the object's announced length, {total} bytes, is negative");
        }

        var sink = open(total);
        try
        {
            do
            {
                sink.Write(stream.Current.Data.Span);
            }
            while (await stream.MoveNext(ct).ConfigureAwait(false));

            sink.EnsureWhole();
            return sink;
        }
        catch
        {
            sink.Dispose();
            throw;
        }
    }
}
