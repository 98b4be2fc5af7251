using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Terrarium.Protocol;

namespace Terrarium.Node.Internal;

/// <summary>
/// Runs actors, each in a worker process of its own: starts it, delivers its calls one at a time in
/// call order, restarts it after a crash while <c>max_restarts</c> allows, and fails calls to a dead
/// actor with the cause of its death.
/// </summary>
internal sealed class ActorSupervisor : IWorkerOwner, IDisposable
{
    private readonly ConcurrentDictionary<string, ActorRecord> _actors = new(StringComparer.Ordinal);
    private readonly ObjectStore _objects;
    private readonly ResourceLedger _ledger;
    private readonly WorkerPool _pool;
    private readonly RuntimeEnvAgent _agent;
    private readonly HeadLink _head;
    private readonly ILogger _logger;
    private TaskCompletionSource _resourcesReleased = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ActorSupervisor(ObjectStore objects, ResourceLedger ledger, WorkerPool pool, RuntimeEnvAgent agent,
        HeadLink head, ILogger<ActorSupervisor> logger)
    {
        _objects = objects;
        _ledger = ledger;
        _pool = pool;
        _agent = agent;
        _head = head;
        _logger = logger;
        _ledger.Released += OnResourcesReleased;
    }

    public IEnumerable<ActorRecord> All => _actors.Values;

    public void Create(CreateActor spec, ClientSession owner)
    {
        var actor = new ActorRecord(spec, owner, ResourceSet.From(spec.Resources));
        if (string.IsNullOrEmpty(spec.ActorId) || spec.Constructor is null || !_actors.TryAdd(spec.ActorId, actor))
        {
            NodeLog.InvalidRequest(_logger, owner.Id, $"CreateActor '{spec.ActorId}' lacks an id or constructor, or reuses an id");
            return;
        }

        var (envJson, refusal) = Admission.Check($"actor {actor.ClassName}", actor.Demand, _ledger, owner, spec.EnvHash);
        if (refusal is not null)
        {
            Die(actor, refusal);
            return;
        }

        _ = StartAsync(actor, envJson);
    }

    public void Call(CallActor spec, ClientSession caller)
    {
        if (string.IsNullOrEmpty(spec.CallId))
        {
            NodeLog.InvalidRequest(_logger, caller.Id, "CallActor needs a call_id");
            return;
        }

        if (!_objects.TryCreate(spec.CallId, caller))
        {
            NodeLog.InvalidRequest(_logger, caller.Id, $"actor call id '{spec.CallId}' is already in use");
            return;
        }

        if (!_actors.TryGetValue(spec.ActorId, out var actor))
        {
            _objects.Complete(spec.CallId, ObjectResult.Failed(new TaskError
            {
                Kind = ErrorKind.ActorDied, Message = $"no actor with id {spec.ActorId} lives on this node",
            }));
            return;
        }

        if (spec.Method is null)
        {
            _objects.Complete(spec.CallId, ObjectResult.Failed(new TaskError { Kind = ErrorKind.InvalidRequest, Message = "CallActor needs a method" }));
            return;
        }

        var call = new ActorCall(spec, ArgResolver.ResolveAsync(spec.Args, _objects));
        lock (actor.Gate)
        {
            if (actor.State == ActorState.Dead)
            {
                FailCall(actor, call.Spec.CallId, actor.DeathCause!);
                return;
            }

            actor.Mailbox.Enqueue(call);
        }

        if (call.Args.IsCompleted)
        {
            Pump(actor);
        }
        else
        {
            _ = call.Args.ContinueWith(_ => Pump(actor), TaskScheduler.Default);
        }
    }

    public void Kill(KillActor spec, ClientSession caller)
    {
        if (string.IsNullOrEmpty(spec.KillId) || !_objects.TryCreate(spec.KillId, caller))
        {
            NodeLog.InvalidRequest(_logger, caller.Id, $"KillActor needs a kill_id not in use (got '{spec.KillId}')");
            return;
        }

        if (!_actors.TryGetValue(spec.ActorId, out var actor))
        {
            _objects.Complete(spec.KillId, new ObjectResult(Google.Protobuf.ByteString.Empty, null));
            return;
        }

        lock (actor.Gate)
        {
            actor.KillIds.Add(spec.KillId);
        }

        Die(actor, new TaskError { Kind = ErrorKind.ActorDied, Message = $"actor {actor.ClassName} ({actor.Id}) was killed" });
    }

    public void EndJob(string jobId)
    {
        foreach (var actor in _actors.Values.Where(a => a.Owner.JobId == jobId))
        {
            Die(actor, new TaskError { Kind = ErrorKind.ActorDied, Message = $"actor {actor.ClassName} ({actor.Id}) ended with its job" });
            _actors.TryRemove(actor.Id, out _);
        }
    }

    public void OnAttached(WorkerProcess worker)
    {
        if (!_actors.TryGetValue(worker.ActorId!, out var actor))
        {
            worker.Kill();
            return;
        }

        var start = new StartActor { ActorId = actor.Id, Constructor = actor.Spec.Constructor };
        start.Args.AddRange(actor.ConstructorArgs);
        worker.Send(new WorkerCommand { StartActor = start });
    }

    public void OnActorStarted(WorkerProcess worker, ActorStarted started)
    {
        if (!_actors.TryGetValue(started.ActorId, out var actor))
        {
            return;
        }

        if (started.Error is { } error)
        {
            error.Kind = ErrorKind.ActorDied;
            error.Message = $"actor {actor.ClassName} failed to start: {error.Message}";
            Die(actor, error);
            return;
        }

        lock (actor.Gate)
        {
            if (actor.State == ActorState.Starting && actor.Worker == worker)
            {
                actor.State = ActorState.Alive;
                worker.State = WorkerState.Busy;
            }
        }

        NodeLog.ActorStarted(_logger, actor.Id, worker.Pid);
        Pump(actor);
    }

    public void OnReturned(WorkerProcess worker, Returned returned) =>
        NodeLog.UnexpectedResult(_logger, worker.Id, string.Join(",", returned.WorkIds));

    public void OnDone(WorkerProcess worker, WorkDone done)
    {
        if (!_actors.TryGetValue(worker.ActorId!, out var actor))
        {
            return;
        }

        lock (actor.Gate)
        {
            if (!actor.InFlight.Remove(done.WorkId))
            {
                NodeLog.UnexpectedResult(_logger, worker.Id, done.WorkId);
                return;
            }
        }

        _objects.Complete(done.WorkId, done.ResultCase == WorkDone.ResultOneofCase.Error
            ? ObjectResult.Failed(done.Error)
            : new ObjectResult(done.Value, null));
    }

    public void OnExited(WorkerProcess worker, int exitCode)
    {
        if (!_actors.TryGetValue(worker.ActorId!, out var actor))
        {
            return;
        }

        var tail = worker.StderrTail();
        var crash = $"the worker process (pid {worker.Pid}) of actor {actor.ClassName} exited with code {exitCode}" +
            (tail.Length > 0 ? $"; its last output on stderr:\n{tail}" : "");
        bool restart;
        List<string> lostCalls;
        lock (actor.Gate)
        {
            if (actor.Worker != worker)
            {
                return;
            }

            actor.Worker = null;
            lostCalls = actor.InFlight.Keys.ToList();
            actor.InFlight.Clear();
            restart = actor.State != ActorState.Dead && actor.Restarts < actor.Spec.MaxRestarts;
            if (restart)
            {
                actor.Restarts++;
                actor.State = ActorState.Starting;
                actor.Worker = _pool.Start(actor.Owner.JobId, actor.Owner.JobCodeDir, actor.Env, actor.Id, this);
            }
        }

        foreach (var callId in lostCalls)
        {
            FailCall(actor, callId, new TaskError { Kind = ErrorKind.ActorDied, ExitCode = exitCode, Message = $"{crash}, while running this call" });
        }

        if (restart)
        {
            NodeLog.RestartingActor(_logger, actor.Id, actor.Restarts, actor.Spec.MaxRestarts);
        }
        else
        {
            Die(actor, new TaskError { Kind = ErrorKind.ActorDied, ExitCode = exitCode, Message = crash });
        }
    }

    public void Dispose() => _ledger.Released -= OnResourcesReleased;

    private async Task StartAsync(ActorRecord actor, string envJson)
    {
        try
        {
            var (args, error) = await ArgResolver.ResolveAsync(actor.Spec.Args, _objects).ConfigureAwait(false);
            if (error is not null)
            {
                error.Kind = ErrorKind.ActorDied;
                error.Message = $"actor {actor.ClassName} could not start: a constructor argument failed: {error.Message}";
                Die(actor, error);
                return;
            }

            actor.ConstructorArgs = args;
            actor.Env = await _agent.PrepareAsync(actor.Spec.EnvHash, envJson, CancellationToken.None).ConfigureAwait(false);
        }
        catch (RuntimeEnvSetupFailure e)
        {
            Die(actor, new TaskError { Kind = ErrorKind.RuntimeEnvSetup, Message = e.Message, SetupField = e.Field, SetupLog = e.Log });
            return;
        }

        while (!_ledger.TryAcquire(actor.Demand))
        {
            var released = _resourcesReleased.Task;
            if (actor.State == ActorState.Dead)
            {
                return;
            }

            await released.ConfigureAwait(false);
        }

        lock (actor.Gate)
        {
            actor.HoldsResources = true;
            if (actor.State == ActorState.Dead)
            {
                actor.HoldsResources = false;
            }
            else
            {
                actor.State = ActorState.Starting;
                actor.Worker = _pool.Start(actor.Owner.JobId, actor.Owner.JobCodeDir, actor.Env, actor.Id, this);
                return;
            }
        }

        _ledger.Release(actor.Demand);
    }

    private void Pump(ActorRecord actor)
    {
        while (true)
        {
            ActorCall call;
            lock (actor.Gate)
            {
                if (actor.State != ActorState.Alive || !actor.Mailbox.TryPeek(out call!) || !call.Args.IsCompleted)
                {
                    return;
                }

                actor.Mailbox.Dequeue();
                if (call.Args.Result.Error is null)
                {
                    actor.InFlight[call.Spec.CallId] = call;
                    var execute = new Execute { WorkId = call.Spec.CallId, Function = call.Spec.Method, ActorCall = true };
                    execute.Args.AddRange(call.Args.Result.Values);
                    actor.Worker!.Send(new WorkerCommand { Execute = execute });
                    continue;
                }
            }

            FailCall(actor, call.Spec.CallId, call.Args.Result.Error);
        }
    }

    private void Die(ActorRecord actor, TaskError cause)
    {
        List<string> lost;
        List<string> killIds;
        WorkerProcess? worker;
        bool release;
        lock (actor.Gate)
        {
            if (actor.State != ActorState.Dead)
            {
                actor.State = ActorState.Dead;
                actor.DeathCause = cause;
            }

            lost = [.. actor.Mailbox.Select(c => c.Spec.CallId), .. actor.InFlight.Keys];
            actor.Mailbox.Clear();
            actor.InFlight.Clear();
            worker = actor.Worker;
            release = actor.HoldsResources && worker is null;
            if (release)
            {
                actor.HoldsResources = false;
            }

            // A kill completes once the process is gone; with no process it is gone now.
            killIds = worker is null ? [.. actor.KillIds] : [];
            if (worker is null)
            {
                actor.KillIds.Clear();
            }
        }

        foreach (var callId in lost)
        {
            FailCall(actor, callId, actor.DeathCause!);
        }

        if (worker is not null)
        {
            worker.Kill();
            return;
        }

        NodeLog.ActorDied(_logger, actor.Id, actor.DeathCause!.Message);
        if (actor.Spec.Name.Length > 0)
        {
            _head.ReleaseActorName(actor.Spec.Name, actor.Id);
        }

        foreach (var killId in killIds)
        {
            _objects.Complete(killId, new ObjectResult(Google.Protobuf.ByteString.Empty, null));
        }

        if (release)
        {
            _ledger.Release(actor.Demand);
        }
    }

    private void FailCall(ActorRecord actor, string callId, TaskError cause)
    {
        var error = cause.Clone();
        if (error.Function.Length == 0)
        {
            error.Function = actor.ClassName;
        }

        _objects.Complete(callId, ObjectResult.Failed(error));
    }

    private void OnResourcesReleased() =>
        Interlocked.Exchange(ref _resourcesReleased, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}
