using Microsoft.Extensions.Logging;
using Terrarium.Protocol;

namespace Terrarium.Node.Internal;

/// <summary>
/// Runs tasks on task workers: waits for their arguments and runtime env, queues them until their
/// resources are free, and hands them to an idle worker of the same job and env hash or starts one.
/// One task runs per worker at a time; workers of different env hashes never share work.
/// </summary>
internal sealed partial class TaskDispatcher : IWorkerOwner, IDisposable
{
    private readonly object _gate = new();
    private readonly TaskQueues _queues = new();
    private readonly IdleWorkers _idle = new();
    private readonly Dictionary<string, WorkerProcess> _workers = new(StringComparer.Ordinal);
    // Tasks waiting for their arguments or runtime env, before they queue.
    private readonly Dictionary<string, TaskRecord> _preparing = new(StringComparer.Ordinal);
    private readonly NodeOptions _options;
    private readonly ObjectStore _objects;
    private readonly ResourceLedger _ledger;
    private readonly WorkerPool _pool;
    private readonly RuntimeEnvAgent _agent;
    private readonly ILogger _logger;
    private readonly ITimer _reaper;

    public TaskDispatcher(NodeOptions options, ObjectStore objects, ResourceLedger ledger, WorkerPool pool,
        RuntimeEnvAgent agent, ILogger<TaskDispatcher> logger)
    {
        _options = options;
        _objects = objects;
        _ledger = ledger;
        _pool = pool;
        _agent = agent;
        _logger = logger;
        var period = TimeSpan.FromTicks(Math.Clamp(options.IdleWorkerTimeout.Ticks / 4, TimeSpan.TicksPerMillisecond * 50, options.RebalanceAfter.Ticks));
        _reaper = options.TimeProvider.CreateTimer(_ => OnTimer(), null, period, period);
        ledger.Released += Dispatch;
    }

    public int QueuedCount
    {
        get
        {
            lock (_gate)
            {
                return _queues.Count;
            }
        }
    }

    public void Submit(SubmitTask spec, ClientSession owner)
    {
        var demand = ResourceSet.From(spec.Resources);
        var task = new TaskRecord(spec, owner, demand);
        var (envJson, refusal) = Admission.Check($"task {task.FunctionName}", demand, _ledger, owner, spec.EnvHash);
        if (refusal is not null)
        {
            Fail(task, refusal);
            return;
        }

        lock (_gate)
        {
            _preparing[spec.TaskId] = task;
        }

        _ = PrepareAsync(task, envJson);
    }

    /// <summary>
    /// A worker's running task waits on an object: lend its resources back and take back the tasks
    /// sent ahead of it (they may be what it waits for). Or it resumes: take the resources again.
    /// The report comes on the worker's session and may overtake the result of the task before it
    /// (on the worker's own stream), so it names its task: a report about a task that is over is
    /// stale and ignored, and the earlier task's result does not end the wait of this one.
    /// </summary>
    public void SetBlocked(string workerId, bool blocked, string taskId)
    {
        ResourceSet lent;
        lock (_gate)
        {
            if (!_workers.TryGetValue(workerId, out var worker) || worker.Assigned.Count == 0 || worker.Blocked == blocked ||
                (taskId.Length > 0 && !worker.Assigned.Any(t => t.Spec.TaskId == taskId)))
            {
                return;
            }

            worker.Blocked = blocked;
            worker.BlockedTaskId = blocked ? taskId : "";
            if (!blocked)
            {
                _ledger.ForceAcquire(worker.Held);
                return;
            }

            lent = worker.Held;
            Reclaim(worker);
        }

        _ledger.Release(lent);
    }

    /// <summary>The job ended: drop its queued tasks and stop its workers.</summary>
    public void EndJob(string jobId)
    {
        List<WorkerProcess> doomed;
        lock (_gate)
        {
            _queues.RemoveJob(jobId);
            doomed = _workers.Values.Where(w => w.JobId == jobId).ToList();
        }

        foreach (var worker in doomed)
        {
            worker.Kill();
        }
    }

    public void OnAttached(WorkerProcess worker)
    {
        lock (_gate)
        {
            if (worker.Assigned.Count == 0)
            {
                MakeIdle(worker);
            }
            else
            {
                worker.State = WorkerState.Busy;
                // Its first task starts now: the process's own start counts against no timeout.
                worker.HeadSince = _options.TimeProvider.GetUtcNow();
                foreach (var task in worker.Assigned)
                {
                    Send(worker, task);
                }
            }
        }

        Dispatch();
    }

    public void OnDone(WorkerProcess worker, WorkDone done)
    {
        TaskRecord? finished;
        ResourceSet released = ResourceSet.Empty;
        lock (_gate)
        {
            finished = Take(worker, done.WorkId);
            if (finished is null)
            {
                NodeLog.UnexpectedResult(_logger, worker.Id, done.WorkId);
                return;
            }

            worker.TasksRun++;
            worker.HeadSince = _options.TimeProvider.GetUtcNow();
            released = EndLeaseIfEmpty(worker, finishedTaskId: done.WorkId);
            if (done.Error is { Kind: ErrorKind.Application } && finished.Spec.RetryExceptions &&
                finished.ExceptionCount < finished.Spec.MaxRetries && finished.Cancellation == TaskCancellation.None)
            {
                finished.ExceptionCount++;
                NodeLog.RetryingTask(_logger, finished.Spec.TaskId, "exception", finished.ExceptionCount);
                Requeue(finished);
                finished = null;
            }
        }

        if (finished is not null)
        {
            _objects.Complete(done.WorkId, done.ResultCase == WorkDone.ResultOneofCase.Error
                ? ObjectResult.Failed(done.Error)
                : new ObjectResult(done.Value, null));
        }

        _ledger.Release(released);
    }

    public void OnReturned(WorkerProcess worker, Returned returned)
    {
        ResourceSet released;
        lock (_gate)
        {
            worker.ReclaimPending = false;
            var given = returned.WorkIds.Select(id => Take(worker, id)).OfType<TaskRecord>().ToList();
            for (var i = given.Count - 1; i >= 0; i--)
            {
                Requeue(given[i]);
            }

            if (worker.Blocked)
            {
                // Tasks that reached the worker after the reclaim are still queued behind the task
                // that now waits, perhaps for them: take those back too.
                Reclaim(worker);
            }

            released = EndLeaseIfEmpty(worker, finishedTaskId: null);
        }

        _ledger.Release(released);
    }

    public void OnActorStarted(WorkerProcess worker, ActorStarted started) =>
        NodeLog.UnexpectedResult(_logger, worker.Id, started.ActorId);

    public void OnExited(WorkerProcess worker, int exitCode)
    {
        TaskRecord? lost = null;
        TaskError? cancelled = null;
        ResourceSet released;
        lock (_gate)
        {
            _workers.Remove(worker.Id);
            _idle.Remove(worker);

            worker.State = WorkerState.Dead;
            released = worker.Blocked ? ResourceSet.Empty : worker.Held;
            worker.Held = ResourceSet.Empty;
            if (worker.Assigned.Count > 0)
            {
                // The first task was running; the ones sent ahead never started and go back unharmed.
                var running = worker.Assigned.First!.Value;
                var waiting = worker.Assigned.Skip(1).ToList();
                worker.Assigned.Clear();
                for (var i = waiting.Count - 1; i >= 0; i--)
                {
                    Requeue(waiting[i]);
                }

                if (running.Cancellation != TaskCancellation.None)
                {
                    // Killed to cancel it, or it crashed after a cancel was asked for: never a crash to retry.
                    cancelled = EndCancelledByExit(running);
                    lost = cancelled is null ? null : running;
                }
                else if (running.CrashCount < running.Spec.MaxRetries)
                {
                    running.CrashCount++;
                    NodeLog.RetryingTask(_logger, running.Spec.TaskId, $"worker exit code {exitCode}", running.CrashCount);
                    Requeue(running);
                }
                else
                {
                    lost = running;
                }
            }
        }

        if (lost is not null && cancelled is not null)
        {
            Fail(lost, cancelled);
        }
        else if (lost is not null)
        {
            var tail = worker.StderrTail();
            Fail(lost, new TaskError
            {
                Kind = ErrorKind.WorkerCrashed,
                ExitCode = exitCode,
                Message = $"the worker process (pid {worker.Pid}) running {lost.FunctionName} exited with code {exitCode}" +
                    (lost.CrashCount > 0 ? $" after {lost.CrashCount} retries" : "") +
                    (tail.Length > 0 ? $"; its last output on stderr:\n{tail}" : ""),
            });
        }

        _ledger.Release(released);
    }

    public void Dispose()
    {
        _reaper.Dispose();
        _ledger.Released -= Dispatch;
    }

    private async Task PrepareAsync(TaskRecord task, string envJson)
    {
        try
        {
            var (args, error) = await ArgResolver.ResolveAsync(task.Spec.Args, _objects).ConfigureAwait(false);
            if (error is not null)
            {
                Fail(task, error);
                return;
            }

            task.Args = args;
            var env = await _agent.PrepareAsync(task.Spec.EnvHash, envJson, CancellationToken.None).ConfigureAwait(false);
            task.SetEnv(env);
        }
        catch (RuntimeEnvSetupFailure e)
        {
            Fail(task, new TaskError { Kind = ErrorKind.RuntimeEnvSetup, Message = e.Message, SetupField = e.Field, SetupLog = e.Log });
            return;
        }
        finally
        {
            lock (_gate)
            {
                _preparing.Remove(task.Spec.TaskId);
            }
        }

        lock (_gate)
        {
            if (task.Cancellation != TaskCancellation.None)
            {
                // Cancelled while it waited: its result has failed already.
                return;
            }

            _queues.Add(task);
        }

        Dispatch();
    }

    private void Dispatch()
    {
        lock (_gate)
        {
            _queues.Drain(task =>
            {
                if (_ledger.TryAcquire(task.Demand))
                {
                    StartLease(task);
                    return true;
                }

                if (LeastLoadedLease(task) is { } worker)
                {
                    Assign(worker, task);
                    return true;
                }

                return false;
            });
            Rebalance();
        }
    }

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
                _ledger.CanAcquire(worker.Held))
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

    private void OnTimer()
    {
        ReapIdleWorkers();
        EnforceTimeouts();
        lock (_gate)
        {
            Rebalance();
        }
    }

    /// <summary>Puts a task back at the head of its queue (a retry, or a task a worker gave back).</summary>
    private void Requeue(TaskRecord task) => _queues.Requeue(task);

    /// <summary>Runs a task with freshly acquired resources: on an idle worker of its pool, or a new one.</summary>
    private void StartLease(TaskRecord task)
    {
        if (_idle.TryTake(task.PoolKey, out var worker))
        {
            worker.Held = task.Demand;
            worker.State = WorkerState.Busy;
            Assign(worker, task);
            return;
        }

        var started = _pool.Start(task.JobId, task.Owner.JobCode, task.Env, actorId: null, this);
        started.Held = task.Demand;
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
                worker.Held.Key == task.Demand.Key && (best is null || worker.Assigned.Count < best.Assigned.Count))
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
        var execute = new Execute { WorkId = task.Spec.TaskId, Function = task.Spec.Function };
        execute.Args.AddRange(task.Args);
        worker.Send(new WorkerCommand { Execute = execute });
    }

    private static TaskRecord? Take(WorkerProcess worker, string taskId)
    {
        for (var node = worker.Assigned.First; node is not null; node = node.Next)
        {
            if (node.Value.Spec.TaskId == taskId)
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
                _ledger.ForceAcquire(worker.Held);
            }

            return ResourceSet.Empty;
        }

        if (worker.State == WorkerState.Idle)
        {
            // The lease ended already: a reclaim answered after the last result. Making the worker
            // idle twice would put it on the idle stack twice, and two leases on one worker lose a CPU.
            return ResourceSet.Empty;
        }

        var released = worker.Blocked ? ResourceSet.Empty : worker.Held;
        worker.Held = ResourceSet.Empty;
        worker.Blocked = false;
        worker.BlockedTaskId = "";
        MakeIdle(worker);
        return released;
    }

    private void MakeIdle(WorkerProcess worker) => _idle.Add(worker, _options.TimeProvider.GetUtcNow());

    private void ReapIdleWorkers()
    {
        List<WorkerProcess> expired;
        lock (_gate)
        {
            expired = _idle.TakeExpired(_options.TimeProvider.GetUtcNow(), _options.IdleWorkerTimeout);
            foreach (var worker in expired)
            {
                worker.State = WorkerState.Dead;
            }
        }

        foreach (var worker in expired)
        {
            NodeLog.ReapingIdleWorker(_logger, worker.Id);
            worker.Shutdown();
        }
    }

    private void Fail(TaskRecord task, TaskError error)
    {
        error.Function = task.FunctionName;
        _objects.Complete(task.Spec.TaskId, ObjectResult.Failed(error));
    }
}
