using System.Threading.Channels;
using Google.Protobuf;
using Grpc.Core;

namespace Terrarium.Protocol.Transport;

/// <summary>
/// Writes items to a gRPC stream in batches: whatever has queued up while the previous write was
/// in flight goes out as one message, cut at <see cref="MessageLimits.BatchBytes"/> so that many
/// large items never add up to a message the peer refuses. Enqueueing never blocks and never
/// throws once the stream has ended; the items are dropped then, and <see cref="Completion"/> tells why.
/// </summary>
/// <typeparam name="TItem">One request or event.</typeparam>
/// <typeparam name="TBatch">The stream's message type, which carries a list of items.</typeparam>
public sealed class BatchingWriter<TItem, TBatch>
    where TItem : IMessage
{
    private const int MaxItemsPerBatch = 4096;
    private readonly Channel<TItem> _queue = Channel.CreateUnbounded<TItem>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Func<TBatch> _newBatch;
    private readonly Action<TBatch, TItem> _add;

    /// <summary>Starts writing to <paramref name="stream"/> until <see cref="Complete"/> or a failure.</summary>
    public BatchingWriter(IAsyncStreamWriter<TBatch> stream, Func<TBatch> newBatch, Action<TBatch, TItem> add, CancellationToken ct)
    {
        _newBatch = newBatch;
        _add = add;
        Completion = Task.Run(() => PumpAsync(stream, ct), CancellationToken.None);
    }

    /// <summary>Completes when the writer stops; faults with the stream's error if it failed.</summary>
    public Task Completion { get; }

    /// <summary>Queues an item; false when the writer has stopped.</summary>
    public bool TryWrite(TItem item) => _queue.Writer.TryWrite(item);

    /// <summary>Stops after the queued items are written.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    private async Task PumpAsync(IAsyncStreamWriter<TBatch> stream, CancellationToken ct)
    {
        try
        {
            var reader = _queue.Reader;
            while (await reader.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                var batch = _newBatch();
                reader.TryRead(out var first);
                _add(batch, first!);
                var count = 1;
                // Sizes are only counted once a second item is there: a batch of one costs nothing.
                long bytes = -1;
                while (count < MaxItemsPerBatch && reader.TryPeek(out var next))
                {
                    bytes = bytes < 0 ? first!.CalculateSize() : bytes;
                    var size = next.CalculateSize();
                    if (bytes + size > MessageLimits.BatchBytes)
                    {
                        break;
                    }

                    reader.TryRead(out var item);
                    _add(batch, item!);
                    bytes += size;
                    count++;
                }

                await stream.WriteAsync(batch, ct).ConfigureAwait(false);
            }
        }
        finally
        {
            _queue.Writer.TryComplete();
        }
    }
}
