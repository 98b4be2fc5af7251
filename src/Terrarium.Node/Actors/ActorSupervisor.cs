using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Terrarium.Node.Membership;
using Terrarium.Node.Objects;
using Terrarium.Node.Resources;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.Service;
using Terrarium.Node.Sessions;
using Terrarium.Node.Tasks;
using Terrarium.Node.Workers;
using Terrarium.Protocol;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.SharedMemory;
using Terrarium.Protocol.Transport;

namespace Terrarium.Node.Actors;

/// <summary>
/// Runs actors, each in a worker process of its own: starts it, tells callers where it serves its
/// calls (they call it directly), restarts it after a crash while <c>max_restarts</c> allows, and
/// tells callers how an incarnation ended and why a dead actor died.
/// </summary>
internal sealed class ActorSupervisor : IWorkerOwner, IDisposable
{
    private readonly ConcurrentDictionary<string, ActorRecord> _actors = new(StringComparer.Ordinal);
    private readonly NodeOptions _options;
    private readonly ObjectStore _objects;
    private readonly ResourceLedger _ledger;
    private readonly IWorkerStarter _pool;
    private readonly EnvBuildCache _builds;
    private readonly HeadLink _head;
    private readonly ClusterCredentials _credentials;
    private readonly ILogger _logger;
    private TaskCompletionSource _resourcesReleased = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Locates of actors not created here (yet), by id: a caller may learn of an actor — its name, from
    // the head — a moment before its creator's request reaches this node. Guarded by itself.
    private readonly Dictionary<string, List<(Session Caller, LocateActor Request)>> _awaited = new(StringComparer.Ordinal);

    /// <summary>How long a locate of an actor this node does not have waits for its creation before it is answered "no such actor".</summary>
    public static readonly TimeSpan UnknownActorGrace = TimeSpan.FromSeconds(3);

    public ActorSupervisor(NodeOptions options, ObjectStore objects, ResourceLedger ledger, IWorkerStarter pool, EnvBuildCache builds,
        HeadLink head, ClusterCredentials credentials, ILogger<ActorSupervisor> logger)
    {
        _credentials = credentials;
        _options = options;
        _objects = objects;
        _ledger = ledger;
        _pool = pool;
        _builds = builds;
        _head = head;
        _logger = logger;
        _ledger.Released += OnResourcesReleased;
    }

    public IEnumerable<ActorRecord> All => _actors.Values;

    /// <summary>The jobs whose detached actors live here: the head keeps those jobs' packages after they end.</summary>
    public List<string> JobsOfLiveDetachedActors() =>
        _actors.Values.Where(a => a.Spec.Detached && !IsDead(a)).Select(a => a.Owner.JobId).Distinct(StringComparer.Ordinal).ToList();

    private static bool IsDead(ActorRecord actor)
    {
        lock (actor.Gate)
        {
            return actor.State == ActorState.Dead;
        }
    }

    /// <summary>Whether the actor lives here and outlives its job.</summary>
    public bool IsDetached(string actorId) => _actors.TryGetValue(actorId, out var actor) && actor.Spec.Detached;

    public void Create(CreateActor spec, Session owner)
    {
        var actor = new ActorRecord(spec, owner, ResourceSet.From(spec.Resources));
        if (string.IsNullOrEmpty(spec.ActorId) || spec.Constructor is null || !_actors.TryAdd(spec.ActorId, actor))
        {
            NodeLog.InvalidRequest(_logger, owner.Id, $"CreateActor '{spec.ActorId}' lacks an id or constructor, or reuses an id");
            return;
        }

        List<(Session Caller, LocateActor Request)>? awaiting;
        lock (_awaited)
        {
            _awaited.Remove(spec.ActorId, out awaiting);
        }

        foreach (var (caller, request) in awaiting ?? [])
        {
            Locate(request, caller);
        }

        if (spec.MaxConcurrency < 0)
        {
            Die(actor, new TaskError { Kind = ErrorKind.InvalidRequest, Message = $"actor {actor.ClassName}: max_concurrency {spec.MaxConcurrency} must be 1 or more" });
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

    /// <summary>Answers where the actor serves calls, now if it can, else once it is alive again or dead.</summary>
    public void Locate(LocateActor request, Session caller)
    {
        if (!_actors.TryGetValue(request.ActorId, out var actor))
        {
            lock (_awaited)
            {
                // Checked again under the lock that Create takes after adding the actor: one of the two sees the other.
                if (!_actors.TryGetValue(request.ActorId, out actor))
                {
                    if (!_awaited.TryGetValue(request.ActorId, out var waiting))
                    {
                        _awaited[request.ActorId] = waiting = [];
                        _ = Task.Delay(UnknownActorGrace, _options.TimeProvider).ContinueWith(_ => AnswerUnknown(request.ActorId),
                            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                    }

                    waiting.Add((caller, request));
                    return;
                }
            }
        }

        lock (actor.Gate)
        {
            if (!IsAnswerable(actor, request))
            {
                actor.Locators.Add((caller, request));
                return;
            }
        }

        caller.Send(new SessionEvent { ActorLocation = LocationFor(actor, request) });
    }

    /// <summary>The grace is over and the actor was not created here: its locators hear so.</summary>
    private void AnswerUnknown(string actorId)
    {
        List<(Session Caller, LocateActor Request)>? awaiting;
        lock (_awaited)
        {
            _awaited.Remove(actorId, out awaiting);
        }

        foreach (var (caller, _) in awaiting ?? [])
        {
            caller.Send(new SessionEvent { ActorLocation = new ActorLocation
            {
                ActorId = actorId,
                Death = new TaskError { Kind = ErrorKind.ActorDied, Message = $"no actor with id {actorId} lives on this node" },
            } });
        }
    }

    public void Kill(KillActor spec, Session caller)
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

    /// <summary>
    /// Kills the job's actors, but for its detached ones, which live on until killed. Each record
    /// goes once its worker is gone: its exit still releases what the actor held.
    /// </summary>
    public void EndJob(string jobId)
    {
        foreach (var actor in _actors.Values.Where(a => a.Owner.JobId == jobId))
        {
            lock (actor.Gate)
            {
                actor.JobEnded = true;
            }

            if (!actor.Spec.Detached)
            {
                Die(actor, new TaskError { Kind = ErrorKind.ActorDied, Message = $"actor {actor.ClassName} ({actor.Id}) ended with its job" });
            }

            ForgetIfGone(actor);
        }
    }

    /// <summary>Drops the record of an actor of an ended job that is dead, its worker gone.</summary>
    private void ForgetIfGone(ActorRecord actor)
    {
        lock (actor.Gate)
        {
            if (!actor.JobEnded || actor.State != ActorState.Dead || actor.Worker is not null)
            {
                return;
            }
        }

        _actors.TryRemove(actor.Id, out _);
    }

    public void OnAttached(WorkerProcess worker)
    {
        if (!_actors.TryGetValue(worker.ActorId!, out var actor))
        {
            worker.Kill();
            return;
        }

        var listen = ListenEndpointFor(worker);
        var start = new StartActor
        {
            ActorId = actor.Id, Constructor = actor.Spec.Constructor, ListenAddress = listen.ToString(), MaxConcurrency = Math.Max(1, actor.Spec.MaxConcurrency),
        };
        if (listen.SocketPath is null)
        {
            // Callers of this machine skip TCP (and TLS): the worker serves them on a Unix socket too.
            start.UnixListenAddress = Endpoint.UnixSocket(ActorSockets.PathOf(_options, worker.Id)).ToString();
            if (_credentials.Tls.ServerCertificate is { } certificate)
            {
                // Over the node's own socket, to this worker alone: callers from other machines check it as the node's.
                (start.TlsCertificatePem, start.TlsKeyPem) = ClusterTls.ExportPem(certificate);
            }
        }

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

        List<(Session Caller, LocateActor Request)> answerable;
        lock (actor.Gate)
        {
            if (actor.State != ActorState.Starting || actor.Worker != worker)
            {
                return;
            }

            actor.State = ActorState.Alive;
            actor.Address = Reachable(started.Address);
            actor.UnixAddress = started.UnixAddress;
            worker.State = WorkerState.Busy;
            answerable = TakeAnswerableLocators(actor);
        }

        NodeLog.ActorStarted(_logger, actor.Id, worker.Pid);
        Answer(actor, answerable);
    }

    public void OnReturned(WorkerProcess worker, Returned returned) =>
        NodeLog.UnexpectedResult(_logger, worker.Id, string.Join(",", returned.WorkIds));

    public void OnDone(WorkerProcess worker, WorkDone done) =>
        NodeLog.UnexpectedResult(_logger, worker.Id, done.WorkId);

    public void OnExited(WorkerProcess worker, int exitCode)
    {
        if (!_actors.TryGetValue(worker.ActorId!, out var actor))
        {
            return;
        }

        DeleteSocketOf(worker);
        var tail = worker.StderrTail();
        var crash = $"the worker process (pid {worker.Pid}) of actor {actor.ClassName} exited with code {exitCode}" +
            (tail.Length > 0 ? $"; its last output on stderr:\n{tail}" : "");
        var ending = new TaskError { Kind = ErrorKind.ActorDied, ExitCode = exitCode, Message = crash };
        bool restart;
        lock (actor.Gate)
        {
            if (actor.Worker != worker)
            {
                return;
            }

            actor.Worker = null;
            actor.Address = "";
            actor.UnixAddress = "";
            // A killed actor's calls fail with the kill, not with the exit code the kill caused.
            actor.Endings[actor.Incarnation] = actor.State == ActorState.Dead ? actor.DeathCause! : ending;
            restart = actor.State != ActorState.Dead && actor.Restarts < actor.Spec.MaxRestarts;
            if (restart)
            {
                actor.Restarts++;
                StartWorker(actor);
            }
        }

        if (restart)
        {
            NodeLog.RestartingActor(_logger, actor.Id, actor.Restarts, actor.Spec.MaxRestarts);
        }
        else
        {
            Die(actor, ending);
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
            actor.Env = await _builds.PrepareAsync(actor.Spec.EnvHash, envJson, actor.Owner, CancellationToken.None).ConfigureAwait(false);
        }
        catch (RuntimeEnvSetupFailure e)
        {
            Die(actor, e.ToTaskError());
            return;
        }
        catch (Exception e)
        {
            // Whatever else went wrong, the actor's creator hears it rather than waiting for ever.
            Die(actor, new TaskError { Kind = ErrorKind.ActorDied, Message = $"actor {actor.ClassName} could not start: {e.GetType().Name}: {e.Message}", RemoteStack = e.ToString() });
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
                StartWorker(actor);
                return;
            }
        }

        _ledger.Release(actor.Demand);
    }

    /// <summary>Starts the actor's next incarnation. Called under the actor's gate.</summary>
    private void StartWorker(ActorRecord actor)
    {
        actor.State = ActorState.Starting;
        actor.Incarnation++;
        actor.Worker = _pool.Start(actor.Owner.JobId, actor.Owner.JobCode, actor.Env, actor.Id, this);
    }

    /// <summary>
    /// A Unix socket beside the node's own on one machine; a TCP port on the node's host when the
    /// node serves TCP, so that callers on other machines can reach the actor.
    /// </summary>
    private Endpoint ListenEndpointFor(WorkerProcess worker) =>
        _options.Endpoints.FirstOrDefault(e => e.SocketPath is null) is { } tcp
            ? Endpoint.Tcp(tcp.Host!, 0)
            : Endpoint.UnixSocket(ActorSockets.PathOf(_options, worker.Id));

    /// <summary>
    /// An actor's worker listening on every interface reports the wildcard address: callers on
    /// other machines reach it at the node's advertised host instead.
    /// </summary>
    private string Reachable(string address)
    {
        var endpoint = Endpoint.Parse(address, anyPort: true);
        return _options.AdvertisedHost is { } host && endpoint.Host is "0.0.0.0" or "::" ? Endpoint.Tcp(host, endpoint.Port).ToString() : address;
    }

    /// <summary>A worker that crashed leaves its Unix socket file behind.</summary>
    private void DeleteSocketOf(WorkerProcess worker) => ActorSockets.Remove(_options, worker.Id);

    private static bool IsAnswerable(ActorRecord actor, LocateActor request) =>
        actor.State == ActorState.Dead || (actor.State == ActorState.Alive && actor.Incarnation > request.AfterIncarnation);

    /// <summary>Called under the actor's gate.</summary>
    private static ActorLocation LocationFor(ActorRecord actor, LocateActor request)
    {
        var location = new ActorLocation { ActorId = actor.Id, Incarnation = actor.Incarnation };
        if (actor.State == ActorState.Dead)
        {
            location.Death = actor.DeathCause;
        }
        else
        {
            location.Address = actor.Address;
            location.UnixAddress = actor.UnixAddress;
            location.BootId = MachineIdentity.BootId;
        }

        if (request.AfterIncarnation > 0)
        {
            location.Ended = actor.Endings.GetValueOrDefault(request.AfterIncarnation) ?? actor.DeathCause;
        }

        return location;
    }

    /// <summary>Called under the actor's gate; the answers are sent outside it.</summary>
    private static List<(Session Caller, LocateActor Request)> TakeAnswerableLocators(ActorRecord actor)
    {
        var answerable = actor.Locators.Where(l => IsAnswerable(actor, l.Request)).ToList();
        actor.Locators.RemoveAll(l => IsAnswerable(actor, l.Request));
        return answerable;
    }

    private static void Answer(ActorRecord actor, List<(Session Caller, LocateActor Request)> locators)
    {
        foreach (var (caller, request) in locators)
        {
            ActorLocation location;
            lock (actor.Gate)
            {
                location = LocationFor(actor, request);
            }

            caller.Send(new SessionEvent { ActorLocation = location });
        }
    }

    private void Die(ActorRecord actor, TaskError cause)
    {
        List<(Session Caller, LocateActor Request)> locators;
        List<string> killIds;
        WorkerProcess? worker;
        bool release;
        lock (actor.Gate)
        {
            if (actor.State != ActorState.Dead)
            {
                actor.State = ActorState.Dead;
                actor.DeathCause = cause;
                actor.Address = "";
                actor.UnixAddress = "";
            }

            locators = TakeAnswerableLocators(actor);
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

        Answer(actor, locators);
        if (worker is not null)
        {
            worker.Kill();
            return;
        }

        NodeLog.ActorDied(_logger, actor.Id, actor.DeathCause!.Message);
        if (release)
        {
            _ledger.Release(actor.Demand);
        }

        _ = ReleaseNameThenCompleteKillsAsync(actor, killIds);
        ForgetIfGone(actor);
    }

    /// <summary>
    /// A kill completes once the actor's name is free at the head too: whoever awaited KillAsync may
    /// create another actor of that name at once.
    /// </summary>
    private async Task ReleaseNameThenCompleteKillsAsync(ActorRecord actor, List<string> killIds)
    {
        try
        {
            if (actor.Spec.Name.Length > 0)
            {
                await _head.ReleaseActorNameAsync(actor.Spec.Name, actor.Id).ConfigureAwait(false);
            }
        }
        finally
        {
            // The actor is dead whatever became of its name: KillAsync returns.
            foreach (var killId in killIds)
            {
                _objects.Complete(killId, new ObjectResult(Google.Protobuf.ByteString.Empty, null));
            }
        }
    }

    private void OnResourcesReleased() =>
        Interlocked.Exchange(ref _resourcesReleased, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}
