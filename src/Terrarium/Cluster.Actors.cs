using System.Linq.Expressions;
using Grpc.Core;
using Terrarium.Actors;
using Terrarium.Objects;
using Terrarium.Packaging;
using Terrarium.Placement;
using Terrarium.Protocol;
using Terrarium.Serialization;
using Terrarium.Sessions;

namespace Terrarium;

public sealed partial class Cluster
{
    private static readonly ActorOptions s_defaultActorOptions = new();

    /// <summary>
    /// Creates an actor in a worker process of its own: <c>cluster.CreateActor(() =&gt; new Counter(10))</c>.
    /// Constructor arguments are evaluated now.
    /// </summary>
    /// <exception cref="ArgumentException">The expression is not one constructor call, the options or runtime env are invalid, or the name is taken.</exception>
    public ActorHandle<T> CreateActor<T>(Expression<Func<T>> constructor, ActorOptions? options = null)
    {
        var actor = PrepareActor(constructor, options ?? s_defaultActorOptions);
        if (actor.Options.Name is { } name)
        {
            // A blocking call, as CreateActor returns its handle at once; GetOrCreateActorAsync awaits it.
            try
            {
                _head.RegisterActorName(NameRequest(name, actor));
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.AlreadyExists)
            {
                throw new ArgumentException(e.Status.Detail, nameof(options), e);
            }
        }

        return LaunchActor<T>(actor);
    }

    /// <summary>An actor checked and placed, not yet sent to its node.</summary>
    private sealed record PlacedActor(string ActorId, ActorOptions Options, AnalyzedCall Call, ResolvedEnv Env, ResourceRequest Resources, Session Session, string NodeId);

    private PlacedActor PrepareActor<T>(Expression<Func<T>> constructor, ActorOptions options)
    {
        ThrowIfDisposed();
        options.Validate();
        var analyzed = CallAnalyzer.AnalyzeConstructor(constructor, nameof(constructor));
        _ = ConcurrencyGroups.Of(analyzed.Method.DeclaringType!); // a class that declares its groups wrongly is refused here
        var env = Resolve(options.RuntimeEnv, $"{nameof(options)}.{nameof(ActorOptions.RuntimeEnv)}");
        var resources = ToRequest(options.NumCpus, options.Resources);
        var (session, nodeId) = _nodes.Place(resources, analyzed.DisplayName, nameof(options), options.SchedulingStrategy);
        return new PlacedActor($"{JobId}/actor-{session.NewObjectId()}", options, analyzed, env, resources, session, nodeId);
    }

    private RegisterActorNameRequest NameRequest(string name, PlacedActor actor) => new()
    {
        Name = name, ActorId = actor.ActorId, NodeId = actor.NodeId, JobId = JobId, ClassName = actor.Call.Function.Type,
        Detached = actor.Options.Lifetime == ActorLifetime.Detached,
    };

    private ActorHandle<T> LaunchActor<T>(PlacedActor actor)
    {
        var (actorId, options, analyzed, env, resources, session, nodeId) = actor;
        session.DefineEnv(env);
        ShareDependencies(analyzed, session);
        var create = new CreateActor
        {
            ActorId = actorId,
            Constructor = analyzed.Function,
            EnvHash = env.Hash,
            Resources = resources,
            MaxRestarts = options.MaxRestarts,
            MaxConcurrency = options.MaxConcurrency,
            Name = options.Name ?? "",
            Detached = options.Lifetime == ActorLifetime.Detached,
        };
        create.Args.AddRange(analyzed.ProtoArgs);

        session.Send(new ClientRequest { CreateActor = create });
        _nodes.FollowActor(create, session, env, analyzed, options.SchedulingStrategy);
        // The constructor's refs to other nodes' objects live as long as this handle (see KeepDependenciesUntil).
        return new ActorHandle<T>(this, actorId, options.Name, nodeId) { KeptAlive = RemoteDependencies(analyzed, session) };
    }

    /// <summary>Finds a named actor.</summary>
    /// <exception cref="KeyNotFoundException">No live actor has that name.</exception>
    public async Task<ActorHandle<T>> GetActorAsync<T>(string name, CancellationToken ct = default)
    {
        ThrowIfDisposed();
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var found = await _head.LookupActorAsync(new LookupActorRequest { Name = name }, cancellationToken: ct).ConfigureAwait(false);
        if (!found.Found)
        {
            throw new KeyNotFoundException($"no actor named '{name}' exists in the cluster");
        }

        if (typeof(T).IsSealed && found.ClassName != typeof(T).FullName)
        {
            throw new ArgumentException($"actor '{name}' is a {found.ClassName}, not a {typeof(T).FullName}", nameof(T));
        }

        return new ActorHandle<T>(this, found.ActorId, name, found.NodeId);
    }

    /// <summary>
    /// The live actor named <see cref="ActorOptions.Name"/>, or, when there is none, a new one made
    /// with <paramref name="constructor"/> and <paramref name="options"/> (Ray's <c>get_if_exists</c>).
    /// Atomic across drivers: of several that ask at once, one creates the actor and the others get it.
    /// </summary>
    /// <exception cref="ArgumentException">The options name no actor, are invalid, or the actor of that name is of another class.</exception>
    public async Task<ActorHandle<T>> GetOrCreateActorAsync<T>(Expression<Func<T>> constructor, ActorOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.Name))
        {
            throw new ArgumentException($"{nameof(GetOrCreateActorAsync)} needs {nameof(options)}.{nameof(ActorOptions.Name)}: the name to find the actor by", nameof(options));
        }

        while (true)
        {
            try
            {
                return await GetActorAsync<T>(options.Name, ct).ConfigureAwait(false);
            }
            catch (KeyNotFoundException)
            {
                // None yet: make it, unless another driver does first.
            }

            var actor = PrepareActor(constructor, options);
            try
            {
                // Awaited, never blocking: many callers at once must not starve the thread pool. Not
                // cancelled once sent: a name the head took for an actor never launched would stay taken.
                ct.ThrowIfCancellationRequested();
                await _head.RegisterActorNameAsync(NameRequest(options.Name, actor), cancellationToken: CancellationToken.None).ConfigureAwait(false);
                return LaunchActor<T>(actor);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.AlreadyExists)
            {
                // Another driver made it meanwhile (the head gives a name once): get that one.
            }
        }
    }

    internal ObjectRef<TResult> CallActor<TResult>(string actorId, string nodeId, string? name, LambdaExpression call, ActorCallOptions? options = null)
    {
        ThrowIfDisposed();
        RefuseTaskTypes(typeof(TResult), nameof(call));
        var analyzed = CallAnalyzer.AnalyzeInstanceCall(call, nameof(call));
        options?.Validate();
        var group = options?.ConcurrencyGroup;
        // A sealed handle type is the actor's class, whose groups are known here; otherwise its worker checks.
        if (group is not null && call.Parameters[0].Type is { IsSealed: true } actorType && ConcurrencyGroups.Of(actorType).RefuseGroup(group) is { } refused)
        {
            throw new ArgumentException(refused, nameof(options));
        }

        if (_nodes.CallerOfActor(actorId, nodeId, name) is not { } caller)
        {
            var lost = new ObjectHandle(_nodes.Home.NewObjectId(), _nodes.Home, onNode: false);
            lost.Complete(new ObjectReady { ObjectId = lost.Id, Error = NodeRouter.ActorGone(actorId, nodeId) });
            return new ObjectRef<TResult>(lost);
        }

        return new ObjectRef<TResult>(caller.Call(caller.NewCallId(), analyzed.Function, analyzed.Args, group ?? ""));
    }

    internal async Task KillActorAsync(string actorId, string nodeId, string? name, CancellationToken ct)
    {
        ThrowIfDisposed();
        _nodes.ForgetActor(actorId);
        if (await _nodes.SessionOfActorAsync(actorId, nodeId, name, ct).ConfigureAwait(false) is { } session)
        {
            var id = session.NewObjectId();
            var handle = session.Track(id);
            session.Send(new ClientRequest { KillActor = new KillActor { ActorId = actorId, KillId = id } });
            var ready = await handle.Ready.WaitAsync(ct).ConfigureAwait(false);
            if (ready.Error is { } error)
            {
                throw Errors.ToException(error);
            }
        }

        if (name is not null)
        {
            // Its node frees the name as the actor dies; not when the node is gone (or never knew
            // the actor), and a detached actor's name has no job end to free it either. The head
            // frees it only if it is still this actor's.
            try
            {
                await _head.ReleaseActorNameAsync(new ReleaseActorNameRequest { Name = name, ActorId = actorId }, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled)
            {
                // The head is away: the actor is dead all the same (its node freed the name if it could).
            }
        }
    }
}
