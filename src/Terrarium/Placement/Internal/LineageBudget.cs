using Terrarium.Objects;
using Terrarium.Protocol;

namespace Terrarium.Placement;

/// <summary>
/// Bounds the bytes of arguments a connection keeps alive so that large results can be made again
/// (their lineage), as Ray's <c>max_lineage_bytes</c> does: past the budget the oldest lineage is
/// dropped, and its arguments are released once nothing else holds them. A pipeline of retryable
/// tasks passing large results along would otherwise keep every intermediate value on its node for
/// as long as the last result's ref lives. Lineage let go otherwise (its result fetched, or its ref
/// collected) stops counting.
/// </summary>
internal sealed class LineageBudget(long maxBytes)
{
    private readonly Lock _lock = new();
    // Oldest first.
    private readonly LinkedList<Kept> _kept = new();
    private long _bytes;

    /// <summary>Counts the arguments <paramref name="result"/>'s lineage keeps, dropping the oldest lineage past the budget.</summary>
    public void Keep(ObjectHandle result, IReadOnlyList<ObjectHandle> arguments)
    {
        var bytes = arguments.Sum(LengthOf);
        if (bytes == 0)
        {
            return;
        }

        var dropped = new List<ObjectHandle>();
        lock (_lock)
        {
            _kept.AddLast(new Kept(new WeakReference<ObjectHandle>(result), bytes));
            _bytes += bytes;
            if (_bytes > maxBytes)
            {
                ForgetLetGo();
            }

            while (_bytes > maxBytes && _kept.First is { } oldest)
            {
                _kept.RemoveFirst();
                _bytes -= oldest.Value.Bytes;
                if (oldest.Value.Result.TryGetTarget(out var handle))
                {
                    dropped.Add(handle);
                }
            }
        }

        foreach (var handle in dropped)
        {
            handle.DropLineage(
                $"its lineage was dropped, because the arguments kept to make large results again passed {nameof(ClusterOptions)}.{nameof(ClusterOptions.MaxLineageBytes)} ({maxBytes} bytes)");
        }
    }

    /// <summary>Stops counting lineage whose result was fetched or collected.</summary>
    private void ForgetLetGo()
    {
        for (var node = _kept.First; node is not null;)
        {
            var next = node.Next;
            if (!node.Value.Result.TryGetTarget(out var handle) || handle.Rebuild is null)
            {
                _kept.Remove(node);
                _bytes -= node.Value.Bytes;
            }

            node = next;
        }
    }

    private static long LengthOf(ObjectHandle argument) => argument.Ready.IsCompletedSuccessfully
        ? argument.Ready.Result.ResultCase switch
        {
            ObjectReady.ResultOneofCase.StoredLength => argument.Ready.Result.StoredLength,
            ObjectReady.ResultOneofCase.Value => argument.Ready.Result.Value.Length,
            _ => 0,
        }
        : 0;

    private sealed record Kept(WeakReference<ObjectHandle> Result, long Bytes);
}
