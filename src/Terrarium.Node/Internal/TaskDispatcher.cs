using Microsoft.Extensions.Logging;
using Terrarium.Protocol;

namespace Terrarium.Node.Internal;

/// <summary>
/// Runs tasks on task workers: waits for their arguments and runtime env, queues them until their
/// resources are free, and hands them to an idle worker of the same job and env hash or starts one.
/// One task runs per worker at a time; workers of different env hashes never share work.
/// </summary>
internal sealed class TaskDispatcher : IWorkerOwner, IDisposable
{
    private readonly object _gate = new();
    private readonly LinkedList<TaskRecord> _queue = new();
    private readonly Dictionary<string, Stack<WorkerProcess>> _idle = new(StringComparer.Ordinal);
    private readonly Dictionary<string, WorkerProcess> _workers = new(StringComparer.Ordinal);
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
        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond * 100, options.IdleWorkerTimeout.Ticks / 4));
        _reaper = options.TimeProvider.CreateTimer(_ => ReapIdleWorkers(), null, period, period);
        ledger.Released += Dispatch;
    }

    public int QueuedCount
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count;
            }
        }
    }

    public void Submit(SubmitTask spec, ClientSession owner)
    {
        var demand = ResourceSet.From(spec.Resources);
        var task = new TaskRecord(spec, owner, demand);
        if (demand.ExceedsTotal(_ledger.Total) is { } shortfall)
        {
            Fail(task, new TaskError { Kind = ErrorKind.InvalidRequest, Message = $"task {task.FunctionName} can never run here: it {shortfall}" });
            return;
        }

        if (!owner.TryGetEnv(spec.EnvHash, out var envJson))
        {
            Fail(task, new TaskError { Kind = ErrorKind.InvalidRequest, Message = $"runtime env {spec.EnvHash} was not defined in this session" });
            return;
        }

        _ = PrepareAsync(task, envJson);
    }

    /// <summary>A worker's task waits on an object (lend its resources back) or resumes (take them again).</summary>
    public void SetBlocked(string workerId, bool blocked)
    {
        ResourceSet lent;
        lock (_gate)
        {
            if (!_workers.TryGetValue(workerId, out var worker) || worker.Current is null || worker.Blocked == blocked)
            {
                return;
            }

            worker.Blocked = blocked;
            if (!blocked)
            {
                _ledger.ForceAcquire(worker.Held);
                return;
            }

            lent = worker.Held;
        }

        _ledger.Release(lent);
    }

    /// <summary>The job ended: drop its queued tasks and stop its workers.</summary>
    public void EndJob(string jobId)
    {
        List<WorkerProcess> doomed;
        lock (_gate)
        {
            for (var node = _queue.First; node is not null;)
            {
                var next = node.Next;
                if (node.Value.JobId == jobId)
                {
                    _queue.Remove(node);
                }

                node = next;
            }

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
            if (worker.Current is { } task)
            {
                Execute(worker, task);
            }
            else
            {
                MakeIdle(worker);
            }
        }

        Dispatch();
    }

    public void OnDone(WorkerProcess worker, WorkDone done)
    {
        TaskRecord? finished;
        ResourceSet released;
        lock (_gate)
        {
            finished = worker.Current;
            if (finished is null || finished.Spec.TaskId != done.WorkId)
            {
                NodeLog.UnexpectedResult(_logger, worker.Id, done.WorkId);
                return;
            }

            released = worker.Blocked ? ResourceSet.Empty : worker.Held;
            worker.Current = null;
            worker.Held = ResourceSet.Empty;
            worker.Blocked = false;
            worker.TasksRun++;
            MakeIdle(worker);

            if (done.Error is { Kind: ErrorKind.Application } && finished.Spec.RetryExceptions &&
                finished.ExceptionCount < finished.Spec.MaxRetries)
            {
                finished.ExceptionCount++;
                NodeLog.RetryingTask(_logger, finished.Spec.TaskId, "exception", finished.ExceptionCount);
                _queue.AddFirst(finished);
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

    public void OnActorStarted(WorkerProcess worker, ActorStarted started) =>
        NodeLog.UnexpectedResult(_logger, worker.Id, started.ActorId);

    public void OnExited(WorkerProcess worker, int exitCode)
    {
        TaskRecord? lost;
        ResourceSet released;
        lock (_gate)
        {
            _workers.Remove(worker.Id);
            if (_idle.TryGetValue(worker.PoolKey, out var idle) && idle.Contains(worker))
            {
                _idle[worker.PoolKey] = new Stack<WorkerProcess>(idle.Where(w => w != worker).Reverse());
            }

            worker.State = WorkerState.Dead;
            lost = worker.Current;
            released = worker.Blocked ? ResourceSet.Empty : worker.Held;
            worker.Current = null;
            worker.Held = ResourceSet.Empty;
            if (lost is not null && lost.CrashCount < lost.Spec.MaxRetries)
            {
                lost.CrashCount++;
                NodeLog.RetryingTask(_logger, lost.Spec.TaskId, $"worker exit code {exitCode}", lost.CrashCount);
                _queue.AddFirst(lost);
                lost = null;
            }
        }

        if (lost is not null)
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
            task.Env = await _agent.PrepareAsync(task.Spec.EnvHash, envJson, CancellationToken.None).ConfigureAwait(false);
        }
        catch (RuntimeEnvSetupFailure e)
        {
            Fail(task, new TaskError { Kind = ErrorKind.RuntimeEnvSetup, Message = e.Message, SetupField = e.Field, SetupLog = e.Log });
            return;
        }

        lock (_gate)
        {
            _queue.AddLast(task);
        }

        Dispatch();
    }

    private void Dispatch()
    {
        lock (_gate)
        {
            // Tasks with the same demand as one that did not fit will not fit either.
            HashSet<string>? blockedDemands = null;
            for (var node = _queue.First; node is not null;)
            {
                var next = node.Next;
                var task = node.Value;
                var demandKey = task.Demand.ToString();
                if (blockedDemands?.Contains(demandKey) != true)
                {
                    if (_ledger.TryAcquire(task.Demand))
                    {
                        _queue.Remove(node);
                        Assign(task);
                    }
                    else
                    {
                        (blockedDemands ??= []).Add(demandKey);
                    }
                }

                node = next;
            }
        }
    }

    private void Assign(TaskRecord task)
    {
        if (_idle.TryGetValue(task.PoolKey, out var idle) && idle.Count > 0)
        {
            var worker = idle.Pop();
            worker.Held = task.Demand;
            Execute(worker, task);
            return;
        }

        var started = _pool.Start(task.JobId, task.Owner.JobCodeDir, task.Env, actorId: null, this);
        started.Current = task;
        started.Held = task.Demand;
        _workers[started.Id] = started;
    }

    private static void Execute(WorkerProcess worker, TaskRecord task)
    {
        worker.Current = task;
        worker.State = WorkerState.Busy;
        var execute = new Execute { WorkId = task.Spec.TaskId, Function = task.Spec.Function };
        execute.Args.AddRange(task.Args);
        worker.Send(new WorkerCommand { Execute = execute });
    }

    private void MakeIdle(WorkerProcess worker)
    {
        worker.State = WorkerState.Idle;
        worker.IdleSince = _options.TimeProvider.GetUtcNow();
        if (!_idle.TryGetValue(worker.PoolKey, out var idle))
        {
            _idle[worker.PoolKey] = idle = new Stack<WorkerProcess>();
        }

        idle.Push(worker);
    }

    private void ReapIdleWorkers()
    {
        var now = _options.TimeProvider.GetUtcNow();
        var expired = new List<WorkerProcess>();
        lock (_gate)
        {
            foreach (var (key, idle) in _idle)
            {
                if (idle.Any(w => now - w.IdleSince >= _options.IdleWorkerTimeout))
                {
                    expired.AddRange(idle.Where(w => now - w.IdleSince >= _options.IdleWorkerTimeout));
                    _idle[key] = new Stack<WorkerProcess>(idle.Where(w => now - w.IdleSince < _options.IdleWorkerTimeout).Reverse());
                }
            }

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
