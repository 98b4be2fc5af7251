using Terrarium.Node.Service;
using Terrarium.Node.Workers;
using Terrarium.Protocol;

namespace Terrarium.Node.Tasks;

/// <summary>Cancelling tasks: by request (a token, or with force the worker) and past their timeout.</summary>
internal sealed partial class TaskDispatcher
{
    /// <summary>
    /// Cancels a task of <paramref name="jobId"/>: one not sent to a worker yet is dropped; one sent
    /// ahead to a worker is dropped there (the worker reports it cancelled), and never requeued if
    /// its worker dies meanwhile; a running one has its token cancelled, or with
    /// <paramref name="force"/> its worker killed (also if a task sent ahead starts before the
    /// worker reads the cancel). A finished task, or another job's, is left alone.
    /// </summary>
    public void Cancel(string taskId, bool force, string jobId)
    {
        TaskRecord? dropped = null;
        WorkerProcess? doomed = null;
        lock (_gate)
        {
            if (FindWaiting(taskId) is { } waiting && waiting.JobId == jobId)
            {
                waiting.Cancellation = TaskCancellation.Requested;
                dropped = waiting;
            }
            else if (FindAssigned(taskId) is var (worker, task) && task.JobId == jobId && task.Cancellation == TaskCancellation.None)
            {
                var running = worker.Assigned.First!.Value == task;
                if (worker.State == WorkerState.Starting && !running)
                {
                    // Not sent yet: its worker gets its tasks once it has attached.
                    worker.Assigned.Remove(task);
                    task.Cancellation = TaskCancellation.Requested;
                    dropped = task;
                }
                else if (force && running)
                {
                    task.Cancellation = TaskCancellation.Forced;
                    doomed = worker;
                }
                else
                {
                    task.Cancellation = force ? TaskCancellation.Forced : TaskCancellation.Requested;
                    worker.Send(new WorkerCommand { Cancel = new CancelWork { WorkId = taskId } });
                }
            }
        }

        if (dropped is not null)
        {
            NodeLog.CancellingTask(_logger, taskId, "dropped before it ran");
            Fail(dropped, CancelledError(dropped));
        }

        if (doomed is not null)
        {
            NodeLog.CancellingTask(_logger, taskId, $"killing worker {doomed.Id}");
            doomed.Kill();
        }
    }

    /// <summary>Kills the workers whose running task is past its timeout; their exit ends the task.</summary>
    private void EnforceTimeouts()
    {
        var now = _options.TimeProvider.GetUtcNow();
        List<WorkerProcess>? doomed = null;
        lock (_gate)
        {
            foreach (var worker in _workers.Values)
            {
                // A starting worker has not begun the task: its clock starts when the worker attaches.
                if (worker.State is not (WorkerState.Dead or WorkerState.Starting) && worker.Assigned.First?.Value is { Timeout: { } timeout } head &&
                    head.Cancellation is TaskCancellation.None or TaskCancellation.Requested && now - worker.HeadSince >= timeout)
                {
                    head.Cancellation = TaskCancellation.TimedOut;
                    (doomed ??= []).Add(worker);
                }
            }
        }

        foreach (var worker in doomed ?? [])
        {
            NodeLog.CancellingTask(_logger, worker.Assigned.First?.Value.Spec.WorkId ?? "", $"past its timeout, killing worker {worker.Id}");
            worker.Kill();
        }
    }

    /// <summary>A task whose worker exited while it ran, as the cancellation asked: null when it is retried.</summary>
    private TaskError? EndCancelledByExit(TaskRecord running)
    {
        if (running.Cancellation == TaskCancellation.TimedOut && running.Spec.RetryExceptions && running.ExceptionCount < running.Spec.MaxRetries)
        {
            running.ExceptionCount++;
            running.Cancellation = TaskCancellation.None;
            NodeLog.RetryingTask(_logger, running.Spec.WorkId, "timeout", running.ExceptionCount);
            Requeue(running);
            return null;
        }

        return CancelledError(running);
    }

    private static TaskError CancelledError(TaskRecord task) => task.Cancellation switch
    {
        TaskCancellation.TimedOut => new TaskError
        {
            Kind = ErrorKind.Cancelled,
            TimedOut = true,
            Message = $"{task.FunctionName} ran past its timeout of {task.Timeout!.Value.TotalSeconds:0.###} s and was stopped (its worker was killed)",
        },
        TaskCancellation.JobEnded => new TaskError { Kind = ErrorKind.Cancelled, Message = $"{task.FunctionName} was stopped: its job ended" },
        _ => new TaskError { Kind = ErrorKind.Cancelled, Message = $"{task.FunctionName} was cancelled" },
    };

    /// <summary>
    /// Tasks that were on a worker and did not run to their end go back to their queue — unless
    /// they are being cancelled (or their job ended): those end now, as cancelled. Called under the
    /// lock; the cancelled are failed by the caller, outside it.
    /// </summary>
    private void RequeueOrEnd(IReadOnlyList<TaskRecord> tasks, List<TaskRecord> ended)
    {
        for (var i = tasks.Count - 1; i >= 0; i--)
        {
            if (tasks[i].Cancellation == TaskCancellation.None)
            {
                Requeue(tasks[i]);
            }
            else
            {
                ended.Add(tasks[i]);
            }
        }
    }

    private void FailCancelled(IEnumerable<TaskRecord> tasks)
    {
        foreach (var task in tasks)
        {
            Fail(task, CancelledError(task));
        }
    }

    /// <summary>A task waiting for its arguments and env, or queued for resources: not on any worker.</summary>
    private TaskRecord? FindWaiting(string taskId)
    {
        if (_preparing.TryGetValue(taskId, out var preparing))
        {
            return preparing;
        }

        return _queues.Remove(taskId);
    }

    private (WorkerProcess Worker, TaskRecord Task)? FindAssigned(string taskId)
    {
        foreach (var worker in _workers.Values)
        {
            foreach (var task in worker.Assigned)
            {
                if (task.Spec.WorkId == taskId)
                {
                    return (worker, task);
                }
            }
        }

        return null;
    }
}
