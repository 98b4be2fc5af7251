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

    /// <summary>Receives a value sent by <see cref="WriteAsync"/>.</summary>
    /// <exception cref="InvalidDataException">The pieces do not add up to the length the first one announced.</exception>
    public static async Task<ByteString> ReadAsync(IAsyncStreamReader<ObjectChunk> stream, CancellationToken ct)
    {
        if (!await stream.MoveNext(ct).ConfigureAwait(false))
        {
            throw new InvalidDataException("the object's stream ended before its first piece");
        }

        var total = stream.Current.TotalLength;
        if (total < 0 || total > MessageLimits.MaxValueBytes)
        {
            throw new InvalidDataException($"the object's announced length, {total} bytes, is not between 0 and {MessageLimits.MaxValueBytes}");
        }

        // Every byte is written below: zeroing it first would only cost time.
        var buffer = GC.AllocateUninitializedArray<byte>((int)total);
        var filled = 0;
        do
        {
            var data = stream.Current.Data.Span;
            if (data.Length > buffer.Length - filled)
            {
                throw new InvalidDataException($"the object's pieces exceed its announced length of {total} bytes");
            }

            data.CopyTo(buffer.AsSpan(filled));
            filled += data.Length;
        }
        while (await stream.MoveNext(ct).ConfigureAwait(false));

        return filled == total
            ? UnsafeByteOperations.UnsafeWrap(buffer)
            : throw new InvalidDataException($"the object's stream ended after {filled} of its {total} bytes");
    }
}
