using Google.Protobuf;
using Terrarium.Node.Resources;
using Terrarium.Node.Workers;
using Terrarium.Protocol;
using Terrarium.Protocol.SharedMemory;
using Terrarium.Protocol.Transport;

namespace Terrarium.Node.Tasks;

/// <summary>
/// Leases: a task that acquired its resources leases a worker of its pool (an idle one, or a new
/// process) and holds it until the worker has no task left. Tasks of the same pool and demand may be
/// sent ahead to a leased worker (pipelining, up to <see cref="NodeOptions.MaxTasksInFlightPerWorker"/>),
/// and are taken back (<see cref="Reclaim"/>) when they could start elsewhere. Called under the lock.
/// </summary>
internal sealed partial class TaskDispatcher
{
    /// <summary>Runs a task with freshly acquired resources: on an idle worker of its pool, or a new one.</summary>
    private void StartLease(TaskRecord task)
    {
        if (_idle.TryTake(task.PoolKey, out var worker))
        {
            worker.Leased = task.Demand;
            worker.State = WorkerState.Busy;
            Assign(worker, task);
            return;
        }

        var started = _pool.Start(task.JobId, task.Owner.JobCode, task.Env, actorId: null, this);
        started.Leased = task.Demand;
        started.HeadSince = _options.TimeProvider.GetUtcNow();
        started.Assigned.AddLast(task);
        _workers[started.Id] = started;
    }

    /// <summary>A worker of the task's pool, leased for the same demand, with room for one more task.</summary>
    private WorkerProcess? LeastLoadedLease(TaskRecord task)
    {
        WorkerProcess? best = null;
        foreach (var worker in _workers.Values)
        {
            // Not to a worker giving tasks back: what it gets now would miss the reclaim and stay
            // queued behind a task that may come to wait on it.
            if (worker.PoolKey == task.PoolKey && worker.State != WorkerState.Dead && !worker.Blocked && !worker.ReclaimPending &&
                worker.Assigned.Count > 0 && worker.Assigned.Count < _options.MaxTasksInFlightPerWorker &&
                worker.Leased.Key == task.Demand.Key && (best is null || worker.Assigned.Count < best.Assigned.Count))
            {
                best = worker;
            }
        }

        return best;
    }

    private void Assign(WorkerProcess worker, TaskRecord task)
    {
        if (worker.Assigned.Count == 0)
        {
            worker.HeadSince = _options.TimeProvider.GetUtcNow();
        }

        worker.Assigned.AddLast(task);
        // A starting worker gets its tasks in OnAttached, after its setup.
        if (worker.State != WorkerState.Starting)
        {
            Send(worker, task);
        }
    }

    private static void Send(WorkerProcess worker, TaskRecord task)
    {
        var execute = new Execute { WorkId = task.Spec.WorkId, Function = task.Spec.Function };
        for (var i = 0; i < task.Args.Count; i++)
        {
            if (task.Args[i].Length > MessageLimits.InlineValueBytes)
            {
                // The worker maps it from the shared-memory store, or fetches it in pieces
                // (FetchArgument) while the task is assigned to it.
                execute.Args.Add(ByteString.Empty);
                execute.FetchArgs.Add(i);
                if (MappedValue.Of(task.Args[i]) is { } mapped)
                {
                    execute.StoredArgs.Add(new StoredArg { Index = i, Path = mapped.Path, Length = task.Args[i].Length });
                }
            }
            else
            {
                execute.Args.Add(task.Args[i]);
            }
        }

        worker.Send(new WorkerCommand { Execute = execute });
    }

    /// <summary>Argument <paramref name="index"/> of a task assigned to a worker, or null when no worker has that task.</summary>
    public ByteString? AssignedArgument(string taskId, int index)
    {
        lock (_gate)
        {
            return FindAssigned(taskId) is var (_, task) && index >= 0 && index < task.Args.Count ? task.Args[index] : null;
        }
    }

    private static TaskRecord? Take(WorkerProcess worker, string taskId)
    {
        for (var node = worker.Assigned.First; node is not null; node = node.Next)
        {
            if (node.Value.Spec.WorkId == taskId)
            {
                worker.Assigned.Remove(node);
                return node.Value;
            }
        }

        return null;
    }

    /// <summary>When a worker has no tasks left its lease ends: it goes idle and its resources return.</summary>
    private ResourceSet EndLeaseIfEmpty(WorkerProcess worker, string? finishedTaskId)
    {
        if (worker.Assigned.Count > 0)
        {
            if (finishedTaskId is not null && worker.Blocked && (worker.BlockedTaskId.Length == 0 || worker.BlockedTaskId == finishedTaskId))
            {
                // The blocked task finished; the next one runs with the lease's resources again.
                worker.Blocked = false;
                worker.BlockedTaskId = "";
                _ledger.ForceAcquire(worker.Leased);
            }

            return ResourceSet.Empty;
        }

        if (worker.State == WorkerState.Idle)
        {
            // The lease ended already: a reclaim answered after the last result. Making the worker
            // idle twice would put it on the idle stack twice, and two leases on one worker lose a CPU.
            return ResourceSet.Empty;
        }

        var released = worker.Blocked ? ResourceSet.Empty : worker.Leased;
        worker.Leased = ResourceSet.Empty;
        worker.Blocked = false;
        worker.BlockedTaskId = "";
        MakeIdle(worker);
        return released;
    }

    private void MakeIdle(WorkerProcess worker) => _idle.Add(worker, _options.TimeProvider.GetUtcNow());

    /// <summary>
    /// Takes back tasks sent ahead to a worker when they could start elsewhere now: an idle worker of
    /// their pool waits, or the task in front of them has run for a while and resources are free.
    /// </summary>
    private void Rebalance()
    {
        var now = _options.TimeProvider.GetUtcNow();
        foreach (var worker in _workers.Values)
        {
            if (worker.Assigned.Count > 1 && !worker.ReclaimPending && !worker.Blocked && worker.State == WorkerState.Busy &&
                (_idle.Any(worker.PoolKey) || now - worker.HeadSince >= _options.RebalanceAfter) &&
                _ledger.CanAcquire(worker.Leased))
            {
                Reclaim(worker);
            }
        }
    }

    private static void Reclaim(WorkerProcess worker)
    {
        if (worker.Assigned.Count > 1 && !worker.ReclaimPending)
        {
            worker.ReclaimPending = true;
            worker.Send(new WorkerCommand { Reclaim = new Reclaim() });
        }
    }
}
