namespace Terrarium.Worker;

/// <summary>
/// The cancellation token of each task or actor call this worker runs, by id, so that a cancel
/// request finds it. A cancel for work that has not started yet is remembered and ends that work
/// before it runs; the memory is bounded, since a cancel may also come just after the work ended.
/// </summary>
internal sealed class CancellationRegistry
{
    private const int MaxRemembered = 1024;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, CancellationTokenSource> _running = new(StringComparer.Ordinal);
    private readonly HashSet<string> _cancelledEarly = new(StringComparer.Ordinal);
    private readonly Queue<string> _cancelledOrder = new();
    private int _earlyCount;

    /// <summary>Whether the work was cancelled before it started; it must not run then.</summary>
    public bool CancelledBeforeStart(string workId)
    {
        // Almost always nothing was cancelled: no lock on the path every call takes.
        if (Volatile.Read(ref _earlyCount) == 0)
        {
            return false;
        }

        lock (_lock)
        {
            if (!_cancelledEarly.Remove(workId))
            {
                return false;
            }

            _earlyCount = _cancelledEarly.Count;
            return true;
        }
    }

    /// <summary>
    /// Registers work that starts now and takes a token; null when it was cancelled just before.
    /// Work that takes no token has nothing to cancel once it runs, and is not registered.
    /// </summary>
    public CancellationTokenSource? Start(string workId)
    {
        lock (_lock)
        {
            if (_cancelledEarly.Remove(workId))
            {
                _earlyCount = _cancelledEarly.Count;
                return null;
            }

            var source = new CancellationTokenSource();
            _running[workId] = source;
            return source;
        }
    }

    /// <summary>Unregisters work that <see cref="Start"/> registered.</summary>
    public void End(string workId)
    {
        CancellationTokenSource? source;
        lock (_lock)
        {
            _running.Remove(workId, out source);
        }

        source?.Dispose();
    }

    /// <summary>Cancels running work, or makes work that has not started end before it runs.</summary>
    public void Cancel(string workId)
    {
        CancellationTokenSource? source;
        lock (_lock)
        {
            if (!_running.TryGetValue(workId, out source))
            {
                if (_cancelledEarly.Add(workId))
                {
                    _cancelledOrder.Enqueue(workId);
                    while (_cancelledOrder.Count > MaxRemembered)
                    {
                        _cancelledEarly.Remove(_cancelledOrder.Dequeue());
                    }

                    _earlyCount = _cancelledEarly.Count;
                }

                return;
            }
        }

        // Outside the lock: cancellation runs the task's registered callbacks.
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // It ended meanwhile.
        }
        catch (AggregateException)
        {
            // A callback the user's code registered on the token threw: the work sees the cancellation anyway.
        }
    }
}
