using Google.Protobuf;

namespace Terrarium.Protocol.Transport;

/// <summary>
/// Where a value that arrives in pieces is written, in order: a buffer of its whole length
/// (<see cref="BufferSink"/>) or a file of a node's shared-memory store
/// (<see cref="SharedMemory.StagedValue.Open"/>). It checks that the pieces add up to the length
/// announced first, so no receiver repeats those checks.
/// </summary>
public abstract class ValueSink : IDisposable
{
    protected ValueSink(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = length;
    }

    /// <summary>The value's whole length, as announced before its first piece.</summary>
    public long Length { get; }

    /// <summary>How many bytes have been written so far.</summary>
    public long Filled { get; private set; }

    /// <summary>Whether every byte has come.</summary>
    public bool IsWhole => Filled == Length;

    /// <summary>Writes the next piece.</summary>
    /// <exception cref="InvalidDataException">The pieces exceed the announced length.</exception>
    public void Write(ReadOnlySpan<byte> piece)
    {
        if (piece.Length > Length - Filled)
        {
            throw new InvalidDataException($"the value's pieces exceed its announced length of {Length} bytes");
        }

        WriteAt(piece, Filled);
        Filled += piece.Length;
    }

    /// <summary>
    /// Memory the next bytes may be read into directly, with no copy, then counted with
    /// <see cref="Advance"/>; empty when the sink is written only through <see cref="Write"/>.
    /// </summary>
    public virtual Memory<byte> NextWindow => Memory<byte>.Empty;

    /// <summary>Counts <paramref name="count"/> bytes read into <see cref="NextWindow"/>.</summary>
    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, NextWindow.Length);
        Filled += count;
    }

    /// <summary>Checks that the value came whole, once its sender says it has sent everything.</summary>
    /// <exception cref="InvalidDataException">Bytes are missing.</exception>
    public void EnsureWhole()
    {
        if (!IsWhole)
        {
            throw new InvalidDataException($"the value ended after {Filled} of its {Length} bytes");
        }
    }

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected abstract void WriteAt(ReadOnlySpan<byte> piece, long offset);

    protected virtual void Dispose(bool disposing)
    {
    }
}

/// <summary>A value received into a buffer of its whole length, in this process's memory.</summary>
public sealed class BufferSink : ValueSink
{
    private readonly byte[] _buffer;

    /// <exception cref="InvalidDataException">The length is over <see cref="MessageLimits.MaxValueBytes"/>.</exception>
    public BufferSink(long length)
        : base(length)
    {
        if (length > MessageLimits.MaxValueBytes)
        {
            throw new InvalidDataException($"the value's announced length, {length} bytes, is over the {MessageLimits.MaxValueBytes} a process receives into its own memory");
        }

        // Every byte is written before the value is used: zeroing it first would only cost time.
        _buffer = GC.AllocateUninitializedArray<byte>((int)length);
    }

    /// <summary>The value, once whole.</summary>
    /// <exception cref="InvalidDataException">Bytes are missing.</exception>
    public ByteString Value
    {
        get
        {
            EnsureWhole();
            return UnsafeByteOperations.UnsafeWrap(_buffer);
        }
    }

    public override Memory<byte> NextWindow => _buffer.AsMemory((int)Filled);

    protected override void WriteAt(ReadOnlySpan<byte> piece, long offset) => piece.CopyTo(_buffer.AsSpan((int)offset));
}

/// <summary>A value received only to be dropped: the bytes of a put that is refused, read so the connection stays in step.</summary>
public sealed class DiscardSink(long length) : ValueSink(length)
{
    protected override void WriteAt(ReadOnlySpan<byte> piece, long offset)
    {
    }
}
