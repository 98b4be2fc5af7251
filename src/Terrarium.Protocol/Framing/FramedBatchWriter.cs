using Google.Protobuf;
using Terrarium.Protocol.Transport;

namespace Terrarium.Protocol.Framing;

/// <summary>
/// Sends items as batches, one frame per batch, on a framed connection. The writer of an item says
/// whether it waits for it: then, if no write is under way, the item is written at once on the
/// writer's own thread (a caller awaiting one call at a time pays no thread hand-off). Otherwise
/// items queue and a pooled thread writes what has queued as one frame (a caller with many calls in
/// flight gets them batched: one write for many). Batches are cut as
/// <see cref="BatchingWriter{TItem, TBatch}"/> cuts them (by size; a large item alone).
/// </summary>
public sealed class FramedBatchWriter<TItem, TBatch>
    where TItem : IMessage
    where TBatch : IMessage
{
    private const int MaxItemsPerBatch = 4096;
    private readonly Task<FramedConnection> _connection;
    private readonly byte _type;
    private readonly Func<TBatch> _newBatch;
    private readonly Action<TBatch, TItem> _add;
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Queue<TItem> _queued = new();
    private bool _writing;
    private bool _completed;
    private bool _failed;

    /// <param name="connection">The connection, or its opening: items queue until it is open.</param>
    /// <param name="type">The frame type of every batch.</param>
    /// <param name="newBatch">Makes an empty batch.</param>
    /// <param name="add">Adds an item to a batch.</param>
    public FramedBatchWriter(Task<FramedConnection> connection, byte type, Func<TBatch> newBatch, Action<TBatch, TItem> add)
    {
        _connection = connection;
        _type = type;
        _newBatch = newBatch;
        _add = add;
    }

    /// <summary>Completes once the items queued before <see cref="Complete"/> are written; faults with the connection's error if it failed.</summary>
    public Task Completion => _done.Task;

    /// <summary>Queues an item; false once completed or failed.</summary>
    /// <param name="item">The item.</param>
    /// <param name="now">
    /// Write it on this thread if the connection is idle: for an item its writer waits on with
    /// nothing else in flight. False leaves it to a pooled thread, batched with what comes meanwhile.
    /// </param>
    public bool TryWrite(TItem item, bool now)
    {
        lock (_gate)
        {
            if (_completed || _failed)
            {
                return false;
            }

            _queued.Enqueue(item);
            if (_writing)
            {
                return true;
            }

            _writing = true;
        }

        if (now)
        {
            _ = PumpAsync();
        }
        else
        {
            ThreadPool.UnsafeQueueUserWorkItem(static writer => _ = writer.PumpAsync(), this, preferLocal: false);
        }

        return true;
    }

    /// <summary>Takes no more items; <see cref="Completion"/> follows once those queued are written.</summary>
    public void Complete()
    {
        lock (_gate)
        {
            _completed = true;
            if (_writing)
            {
                return;
            }
        }

        _done.TrySetResult();
    }

    private async Task PumpAsync()
    {
        try
        {
            var connection = await _connection.ConfigureAwait(false);
            while (true)
            {
                TBatch batch;
                lock (_gate)
                {
                    if (_queued.Count == 0)
                    {
                        _writing = false;
                        if (_completed)
                        {
                            _done.TrySetResult();
                        }

                        return;
                    }

                    batch = TakeBatch();
                }

                await connection.SendAsync(_type, batch).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            lock (_gate)
            {
                _failed = true;
                _writing = false;
                _queued = new Queue<TItem>();
            }

            _done.TrySetException(e);
        }
    }

    /// <summary>Called under the gate.</summary>
    private TBatch TakeBatch()
    {
        var batch = _newBatch();
        var first = _queued.Dequeue();
        _add(batch, first);
        var count = 1;
        // Sizes are only counted once a second item is there: a batch of one costs nothing.
        long bytes = -1;
        while (count < MaxItemsPerBatch && _queued.TryPeek(out var next))
        {
            bytes = bytes < 0 ? first.CalculateSize() : bytes;
            var size = next.CalculateSize();
            if (bytes + size > MessageLimits.BatchBytes)
            {
                break;
            }

            _add(batch, _queued.Dequeue());
            bytes += size;
            count++;
        }

        return batch;
    }
}
