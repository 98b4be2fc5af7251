using Microsoft.Extensions.Logging;
using Terrarium.Node.Objects;
using Terrarium.Node.Resources;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.Service;
using Terrarium.Node.Sessions;
using Terrarium.Node.Workers;
using Terrarium.Protocol;

namespace Terrarium.Node.Tasks;

/// <summary>
/// Runs tasks on task workers: waits for their arguments and runtime env, queues them until their
/// resources are free, and hands them to an idle worker of the same job and env hash or starts one.
/// One task runs per worker at a time; workers of different env hashes never share work. Its parts:
/// queues (<see cref="TaskQueues"/>), idle workers (<see cref="IdleWorkers"/>), leases and
/// pipelining (<c>TaskDispatcher.Leases.cs</c>), cancellation and timeouts
/// (<c>TaskDispatcher.Cancellation.cs</c>); retry decisions are the task's own (<see cref="TaskRecord"/>).
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
    private readonly IWorkerStarter _pool;
    private readonly EnvBuildCache _builds;
    private readonly ILogger _logger;
    private readonly ITimer _reaper;

    public TaskDispatcher(NodeOptions options, ObjectStore objects, ResourceLedger ledger, IWorkerStarter pool,
        EnvBuildCache builds, ILogger<TaskDispatcher> logger)
    {
        _options = options;
        _objects = objects;
        _ledger = ledger;
        _pool = pool;
        _builds = builds;
        _logger = logger;
        var period = TimeSpan.FromTicks(Math.Clamp(options.IdleWorkerTimeout.Ticks / 4, TimeSpan.TicksPerMillisecond * 50, options.RebalanceAfter.Ticks));
        _reaper = options.TimeProvider.CreateTimer(_ => OnTimer(), null, period, period);
        ledger.Released += Dispatch;
    }

    /// <summary>The env of each task that waits on this node (its env being prepared, or queued), for the cache's collector.</summary>
    public List<string> WaitingEnvHashes()
    {
        lock (_gate)
        {
            return _preparing.Values.Concat(_queues.All).Select(t => t.Spec.EnvHash).Where(h => h.Length > 0).ToList();
        }
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

    public void Submit(SubmitTask spec, Session owner)
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
            _preparing[spec.WorkId] = task;
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
                (taskId.Length > 0 && !worker.Assigned.Any(t => t.Spec.WorkId == taskId)))
            {
                return;
            }

            worker.Blocked = blocked;
            worker.BlockedTaskId = blocked ? taskId : "";
            if (!blocked)
            {
                _ledger.ForceAcquire(worker.Leased);
                return;
            }

            lent = worker.Leased;
            Reclaim(worker);
        }

        _ledger.Release(lent);
    }

    /// <summary>
    /// The job ended: drop its queued and waiting tasks and stop its workers. Nothing of it runs
    /// again — a killed worker's tasks are not retried — and its CPUs come back as its workers exit.
    /// </summary>
    public void EndJob(string jobId)
    {
        List<WorkerProcess> doomed;
        lock (_gate)
        {
            _queues.RemoveJob(jobId);
            foreach (var task in _preparing.Values.Where(t => t.JobId == jobId))
            {
                task.Cancellation = TaskCancellation.JobEnded;
            }

            doomed = _workers.Values.Where(w => w.JobId == jobId).ToList();
            foreach (var task in doomed.SelectMany(w => w.Assigned))
            {
                task.Cancellation = TaskCancellation.JobEnded;
            }
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
        string? killToCancel = null;
        lock (_gate)
        {
            finished = Take(worker, done.WorkId);
            if (finished is null)
            {
                NodeLog.UnexpectedResult(_logger, worker.Id, done.WorkId);
                _objects.Discard(done.ResultCase == WorkDone.ResultOneofCase.Value ? new ObjectResult(done.Value, null) : ObjectResult.Failed(done.Error));
                return;
            }

            worker.TasksRun++;
            worker.HeadSince = _options.TimeProvider.GetUtcNow();
            // The next task starts now, unless the worker drops it for a cancel it is about to read:
            // one cancelled with force must not run, so its worker goes (the others go back unharmed).
            killToCancel = worker.Assigned.First?.Value is { Cancellation: TaskCancellation.Forced } next ? next.Spec.WorkId : null;
            released = EndLeaseIfEmpty(worker, finishedTaskId: done.WorkId);
            if (done.Error is { } error && finished.RetryAfterException(error))
            {
                NodeLog.RetryingTask(_logger, finished.Spec.WorkId, "exception", finished.ExceptionCount);
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

        if (killToCancel is { } cancelledTaskId)
        {
            NodeLog.CancellingTask(_logger, cancelledTaskId, $"it reached the head of worker {worker.Id}'s queue; killing the worker");
            worker.Kill();
        }

        _ledger.Release(released);
    }

    public void OnReturned(WorkerProcess worker, Returned returned)
    {
        ResourceSet released;
        var ended = new List<TaskRecord>();
        lock (_gate)
        {
            worker.ReclaimPending = false;
            RequeueOrEnd(returned.WorkIds.Select(id => Take(worker, id)).OfType<TaskRecord>().ToList(), ended);

            if (worker.Blocked)
            {
                // Tasks that reached the worker after the reclaim are still queued behind the task
                // that now waits, perhaps for them: take those back too.
                Reclaim(worker);
            }

            released = EndLeaseIfEmpty(worker, finishedTaskId: null);
        }

        FailCancelled(ended);
        _ledger.Release(released);
    }

    public void OnActorStarted(WorkerProcess worker, ActorStarted started) =>
        NodeLog.UnexpectedResult(_logger, worker.Id, started.ActorId);

    public void OnExited(WorkerProcess worker, int exitCode)
    {
        TaskRecord? lost = null;
        TaskError? cancelled = null;
        ResourceSet released;
        var ended = new List<TaskRecord>();
        lock (_gate)
        {
            _workers.Remove(worker.Id);
            _idle.Remove(worker);

            worker.State = WorkerState.Dead;
            released = worker.Blocked ? ResourceSet.Empty : worker.Leased;
            worker.Leased = ResourceSet.Empty;
            if (worker.Assigned.Count > 0)
            {
                // The first task was running; the ones sent ahead never started and go back unharmed,
                // unless they were being cancelled.
                var running = worker.Assigned.First!.Value;
                var waiting = worker.Assigned.Skip(1).ToList();
                worker.Assigned.Clear();
                RequeueOrEnd(waiting, ended);

                if (running.Cancellation != TaskCancellation.None)
                {
                    // Killed to cancel it, or it crashed after a cancel was asked for: never a crash to retry.
                    cancelled = EndCancelledByExit(running);
                    lost = cancelled is null ? null : running;
                }
                else if (running.RetryAfterCrash())
                {
                    NodeLog.RetryingTask(_logger, running.Spec.WorkId, $"worker exit code {exitCode}", running.CrashCount);
                    Requeue(running);
                }
                else
                {
                    lost = running;
                }
            }
        }

        FailCancelled(ended);
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
        var prepared = false;
        try
        {
            var (args, error) = await ArgResolver.ResolveAsync(task.Spec.Args, _objects).ConfigureAwait(false);
            if (error is not null)
            {
                Fail(task, error);
                return;
            }

            task.Args = args;
            var env = await _builds.PrepareAsync(task.Spec.EnvHash, envJson, task.Owner, CancellationToken.None).ConfigureAwait(false);
            task.SetEnv(env);
            prepared = true;
        }
        catch (RuntimeEnvSetupFailure e)
        {
            Fail(task, e.ToTaskError());
            return;
        }
        catch (Exception e)
        {
            // Whatever else went wrong, the task's owner hears it rather than waiting for ever.
            Fail(task, new TaskError { Kind = ErrorKind.RuntimeEnvSetup, Message = $"the node could not prepare {task.FunctionName}: {e.GetType().Name}: {e.Message}", SetupLog = e.ToString() });
            return;
        }
        finally
        {
            if (!prepared)
            {
                lock (_gate)
                {
                    _preparing.Remove(task.Spec.WorkId);
                }
            }
        }

        TaskCancellation cancellation;
        lock (_gate)
        {
            // Out of preparing and into the queue at once: the cache's collector sees it wait for its env throughout.
            _preparing.Remove(task.Spec.WorkId);
            cancellation = task.Cancellation;
            if (cancellation == TaskCancellation.None)
            {
                _queues.Add(task);
            }
        }

        if (cancellation == TaskCancellation.JobEnded)
        {
            // Its job ended while it waited: it ends too, and nothing holds on to it.
            FailCancelled([task]);
        }

        if (cancellation != TaskCancellation.None)
        {
            // Cancelled while it waited: its result has failed already.
            return;
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
        _objects.Complete(task.Spec.WorkId, ObjectResult.Failed(error));
    }
}
