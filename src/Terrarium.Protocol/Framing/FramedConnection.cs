using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Google.Protobuf;

namespace Terrarium.Protocol.Framing;

/// <summary>
/// Frames over a connected stream whose handshake is done (<see cref="FramedClient"/>,
/// <see cref="FramedListener"/>): <c>u32 length | u8 type | payload</c>. A frame's length is checked
/// against the limit before anything is allocated for it. Writes are serialized: a writer that
/// finds the connection idle writes inline, on its own thread; others wait their turn. One reader
/// at a time.
/// </summary>
public sealed class FramedConnection : IAsyncDisposable
{
    /// <summary>The bytes before a frame's payload: its length (4) and type (1).</summary>
    public const int HeaderBytes = 5;

    // Payloads at least this large go to the stream directly, not copied through the pipe's buffers.
    private const int DirectWriteBytes = 64 << 10;
    private readonly Stream _stream;
    private readonly PipeReader _reader;
    private readonly PipeWriter _writer;
    private readonly SemaphoreSlim _writing = new(1, 1);
    private readonly int _maxFrameBytes;
    private SequencePosition? _handedOut;
    private long _bufferedBehind;
    private int _disposed;

    /// <param name="stream">The connection, its handshake done; the connection owns it from now on.</param>
    /// <param name="maxFrameBytes">The largest payload either end may send; a larger one ends the connection.</param>
    public FramedConnection(Stream stream, int maxFrameBytes)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxFrameBytes);
        _stream = stream;
        _maxFrameBytes = maxFrameBytes;
        _reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 << 10, minimumReadSize: 16 << 10, leaveOpen: true));
        _writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
    }

    /// <summary>The largest payload either end may send.</summary>
    public int MaxFrameBytes => _maxFrameBytes;

    /// <summary>
    /// Whether more of the next frame has arrived behind the one last read (without asking the
    /// socket): the peer is sending ahead, so an answer to it can wait to go with the next ones.
    /// </summary>
    public bool HasMoreBuffered => _bufferedBehind > 0;

    /// <summary>
    /// The next frame, or null once the peer has closed the connection between frames. The frame's
    /// payload stays valid until the next call.
    /// </summary>
    /// <exception cref="InvalidDataException">The peer announced a frame over the limit, or closed the connection inside a frame.</exception>
    public async ValueTask<Frame?> ReadAsync(CancellationToken ct = default)
    {
        if (_handedOut is { } consumed)
        {
            _reader.AdvanceTo(consumed);
            _handedOut = null;
        }

        while (true)
        {
            var result = await _reader.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (TryTakeFrame(ref buffer, out var frame))
            {
                _handedOut = buffer.Start;
                _bufferedBehind = buffer.Length;
                return frame;
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                _reader.AdvanceTo(buffer.End);
                return buffer.IsEmpty ? null : throw new InvalidDataException($"the peer closed the connection inside a frame ({buffer.Length} bytes of it had come)");
            }

            _reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>
    /// Reads bytes the peer sends outside frames (a bulk value whose length a frame announced): first
    /// any already buffered behind the last frame, then straight from the connection into
    /// <paramref name="destination"/>, with no copy through the connection's buffers.
    /// </summary>
    /// <returns>How many bytes were read; 0 once the peer has closed the connection.</returns>
    public async ValueTask<int> ReadRawAsync(Memory<byte> destination, CancellationToken ct = default)
    {
        if (_handedOut is { } consumed)
        {
            _reader.AdvanceTo(consumed);
            _handedOut = null;
            _bufferedBehind = 0;
        }

        // Only ReadAsync fills the pipe: once it holds nothing, the stream is where the next bytes are.
        if (_reader.TryRead(out var result))
        {
            var buffer = result.Buffer;
            if (!buffer.IsEmpty)
            {
                var count = (int)Math.Min(buffer.Length, destination.Length);
                buffer.Slice(0, count).CopyTo(destination.Span);
                _reader.AdvanceTo(buffer.GetPosition(count));
                return count;
            }

            _reader.AdvanceTo(buffer.Start);
            if (result.IsCompleted)
            {
                return 0;
            }
        }

        return await _stream.ReadAsync(destination, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends <paramref name="bytes"/> outside frames, straight to the connection, after whatever is
    /// buffered: for a bulk value whose length a frame just sent announced.
    /// </summary>
    public async ValueTask SendRawAsync(ReadOnlyMemory<byte> bytes, CancellationToken ct = default)
    {
        await _writing.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await FlushAsync(ct).ConfigureAwait(false);
            await _stream.WriteAsync(bytes, ct).ConfigureAwait(false);
            await _stream.FlushAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            _writing.Release();
        }
    }

    /// <summary>Sends one frame; completes once it is written to the connection.</summary>
    /// <exception cref="ArgumentException">The payload is over the limit.</exception>
    public async ValueTask SendAsync(byte type, ReadOnlyMemory<byte> payload, CancellationToken ct = default)
    {
        if (payload.Length > _maxFrameBytes)
        {
            throw new ArgumentException($"a frame of {payload.Length} bytes is over this connection's limit of {_maxFrameBytes}", nameof(payload));
        }

        await _writing.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            WriteHeader(type, payload.Length);
            if (payload.Length >= DirectWriteBytes)
            {
                await FlushAsync(ct).ConfigureAwait(false);
                await _stream.WriteAsync(payload, ct).ConfigureAwait(false);
                await _stream.FlushAsync(ct).ConfigureAwait(false);
                return;
            }

            _writer.Write(payload.Span);
            await FlushAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            _writing.Release();
        }
    }

    /// <summary>Sends one frame whose payload is <paramref name="message"/>, serialized straight into the connection's buffer.</summary>
    /// <exception cref="ArgumentException">The message is over the limit.</exception>
    public async ValueTask SendAsync(byte type, IMessage message, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var length = message.CalculateSize();
        if (length > _maxFrameBytes)
        {
            throw new ArgumentException($"a frame of {length} bytes is over this connection's limit of {_maxFrameBytes}", nameof(message));
        }

        await _writing.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            WriteHeader(type, length);
            message.WriteTo(_writer);
            await FlushAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            _writing.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // The stream first: a read or write still in progress on another thread ends with an error
        // instead of racing the pipes' completion. Every send has flushed, so nothing is lost.
        await _stream.DisposeAsync().ConfigureAwait(false);
        try
        {
            await _reader.CompleteAsync().ConfigureAwait(false);
            await _writer.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The stream is gone already; so is whatever the pipes held.
        }
    }

    private bool TryTakeFrame(ref ReadOnlySequence<byte> buffer, out Frame frame)
    {
        frame = default;
        if (buffer.Length < HeaderBytes)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[HeaderBytes];
        buffer.Slice(0, HeaderBytes).CopyTo(header);
        var length = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (length > (uint)_maxFrameBytes)
        {
            throw new InvalidDataException($"the peer announced a frame of {length} bytes, over this connection's limit of {_maxFrameBytes}");
        }

        if (buffer.Length < HeaderBytes + length)
        {
            return false;
        }

        frame = new Frame(header[4], buffer.Slice(HeaderBytes, length));
        buffer = buffer.Slice(HeaderBytes + length);
        return true;
    }

    private void WriteHeader(byte type, int length)
    {
        var header = _writer.GetSpan(HeaderBytes);
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)length);
        header[4] = type;
        _writer.Advance(HeaderBytes);
    }

    private async ValueTask FlushAsync(CancellationToken ct)
    {
        var flushed = await _writer.FlushAsync(ct).ConfigureAwait(false);
        if (flushed.IsCompleted)
        {
            throw new IOException("the connection is closed");
        }
    }
}
