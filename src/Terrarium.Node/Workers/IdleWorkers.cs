using Terrarium.Node.Tasks;
namespace Terrarium.Node.Workers;

/// <summary>
/// Task workers with nothing to do, per pool (job and env hash): the most recently idle is taken
/// first (its caches are warmest), and those idle past the timeout are handed out to be stopped.
/// Not thread-safe: the <see cref="TaskDispatcher"/> calls it under its lock.
/// </summary>
internal sealed class IdleWorkers
{
    private readonly Dictionary<string, Stack<WorkerProcess>> _byPool = new(StringComparer.Ordinal);

    /// <summary>Marks the worker idle since <paramref name="now"/> and makes it available to its pool.</summary>
    public void Add(WorkerProcess worker, DateTimeOffset now)
    {
        worker.State = WorkerState.Idle;
        worker.IdleSince = now;
        if (!_byPool.TryGetValue(worker.PoolKey, out var idle))
        {
            _byPool[worker.PoolKey] = idle = new Stack<WorkerProcess>();
        }

        idle.Push(worker);
    }

    /// <summary>Whether the pool has an idle worker.</summary>
    public bool Any(string poolKey) => _byPool.TryGetValue(poolKey, out var idle) && idle.Count > 0;

    /// <summary>The pool's most recently idle worker, taken out.</summary>
    public bool TryTake(string poolKey, out WorkerProcess worker)
    {
        if (_byPool.TryGetValue(poolKey, out var idle) && idle.Count > 0)
        {
            worker = idle.Pop();
            return true;
        }

        worker = null!;
        return false;
    }

    /// <summary>Takes a worker out wherever it is (it exited).</summary>
    public void Remove(WorkerProcess worker)
    {
        if (_byPool.TryGetValue(worker.PoolKey, out var idle) && idle.Contains(worker))
        {
            _byPool[worker.PoolKey] = new Stack<WorkerProcess>(idle.Where(w => w != worker).Reverse());
        }
    }

    /// <summary>Takes out the workers idle for <paramref name="timeout"/> or longer at <paramref name="now"/>.</summary>
    public List<WorkerProcess> TakeExpired(DateTimeOffset now, TimeSpan timeout)
    {
        var expired = new List<WorkerProcess>();
        foreach (var (key, idle) in _byPool)
        {
            if (idle.Any(w => now - w.IdleSince >= timeout))
            {
                expired.AddRange(idle.Where(w => now - w.IdleSince >= timeout));
                _byPool[key] = new Stack<WorkerProcess>(idle.Where(w => now - w.IdleSince < timeout).Reverse());
            }
        }

        return expired;
    }
}
