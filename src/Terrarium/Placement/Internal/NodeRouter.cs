using System.Collections.Concurrent;
using Terrarium.Actors;
using Terrarium.Objects;
using Terrarium.Packaging;
using Terrarium.Protocol;
using Terrarium.Protocol.Transport;
using Terrarium.Serialization;
using Terrarium.Sessions;

namespace Terrarium.Placement;

/// <summary>
/// A cluster connection's sessions, one per node it has placed work on, and where the next task or
/// actor goes. The home session is the node this process joined (a worker's own node); other nodes'
/// sessions open the first time the <see cref="IPlacementPolicy"/> picks them. The live nodes and
/// their resources come from the head, refreshed at most once a second and never on the submit path,
/// except when no known node could run a demand (one may have joined since).
/// </summary>
internal sealed partial class NodeRouter : IAsyncDisposable
{
    private static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(1);
    // The head says when a restored node is dead (its death timeout); this only bounds a head that never does.
    private static readonly TimeSpan RestoredNodeWait = TimeSpan.FromMinutes(2);
    private readonly Protocol.Head.HeadClient _head;
    private readonly IPlacementPolicy _policy;
    private readonly SpreadPlacement _spread = new();
    private readonly LineageBudget _lineage;
    // Sessions with other nodes, by node id.
    private readonly ConcurrentDictionary<string, Session> _siblings = new(StringComparer.Ordinal);
    // CPUs of this connection's unfinished work per session (counted once there are several nodes).
    private readonly ConcurrentDictionary<Session, double> _inFlight = new();
    // Unfinished tasks with retries left, by task id: sent again elsewhere if their node dies.
    private readonly ConcurrentDictionary<string, PlacedTask> _retryable = new(StringComparer.Ordinal);
    // This connection's actors with restarts left, by actor id: created again elsewhere if their node dies.
    private readonly ConcurrentDictionary<string, PlacedActor> _restartable = new(StringComparer.Ordinal);
    // Actors that moved to another node (actor id -> node id): calls follow them.
    private readonly ConcurrentDictionary<string, string> _moved = new(StringComparer.Ordinal);
    // Every node the head knows, and the live ones: replaced together, read without a lock.
    private volatile NodeList _nodes;
    private readonly TimeProvider _clock;
    private long _refreshedAt;
    private int _refreshing;
    private volatile bool _severalNodes;
    // While there are sessions with other nodes, or an env to prepare on each: hears of nodes' death
    // and of new nodes even when nothing is submitted.
    private ITimer? _watch;
    // The job env that each live node builds before work needs it (eager install), if any.
    private volatile ResolvedEnv? _eagerEnv;

    public NodeRouter(Session home, Protocol.Head.HeadClient head, IReadOnlyList<NodeState> nodes, LineageBudget lineage, TimeProvider clock, IPlacementPolicy? policy = null)
    {
        _clock = clock;
        _refreshedAt = clock.GetTimestamp();
        Home = home;
        _lineage = lineage;
        _head = head;
        _nodes = new NodeList(nodes);
        _policy = policy ?? new HybridPlacement();
    }

    /// <summary>The session with this process's own node.</summary>
    public Session Home { get; }

    /// <summary>Every session this connection has.</summary>
    public IEnumerable<Session> Sessions => _siblings.Values.Prepend(Home);

    public static async Task<IReadOnlyList<NodeState>> ListNodesAsync(Protocol.Head.HeadClient head, CancellationToken ct) =>
        (await head.ListNodesAsync(new ListNodesRequest(), cancellationToken: ct).ConfigureAwait(false)).Nodes;

    /// <summary>
    /// The session of the node <paramref name="demand"/> goes to by <paramref name="strategy"/>, and
    /// that node's id; never one of <paramref name="avoid"/> (nodes that could not give a result they held).
    /// </summary>
    /// <exception cref="ArgumentException">No live node could ever run it, or not the one a hard node affinity names (the message says what it asks and what nodes offer).</exception>
    /// <exception cref="InvalidOperationException">The head did not answer when its node list was needed at once.</exception>
    public (Session Session, string NodeId) Place(ResourceRequest demand, string what, string paramName, SchedulingStrategy strategy, IReadOnlySet<string>? avoid = null)
    {
        RefreshIfStale();
        var live = _nodes.Live;
        _severalNodes = live.Count > 1;
        if (strategy is NodeAffinityStrategy affinity && PlaceOnNode(affinity, demand, what, paramName, avoid) is { } pinned)
        {
            return pinned;
        }

        var policy = strategy == SchedulingStrategy.Spread ? _spread : _policy;
        if (live.Count == 1 && live[0].Node.NodeId == Home.NodeId && avoid?.Contains(Home.NodeId) != true && Fits(demand, live[0].Node.Resources))
        {
            // One node (the embedded cluster's case, on every submit): nothing to choose, nothing to count.
            return (Home, Home.NodeId);
        }

        var views = live.Where(n => avoid?.Contains(n.Node.NodeId) != true).Select(ToView).ToList();
        var chosen = policy.Choose(demand, views, views.FirstOrDefault(v => v.NodeId == Home.NodeId));
        if (chosen is null)
        {
            // Rare: nodes may have joined since the last refresh. Only the head can say whether the
            // demand is feasible, and Submit promises an ArgumentException when it is not, so this
            // one answer is waited for (a blocking call, as registering an actor's name is).
            ListNodesNow();
            views = _nodes.Live.Where(n => avoid?.Contains(n.Node.NodeId) != true).Select(ToView).ToList();
            chosen = policy.Choose(demand, views, views.FirstOrDefault(v => v.NodeId == Home.NodeId))
                ?? throw Infeasible(demand, what, views, paramName);
        }

        return (Session(chosen.NodeId), chosen.NodeId);
    }

    /// <summary>
    /// Follows a task sent to the handle's node until its result comes: its CPUs count as busy
    /// there, and if it may be retried and the node dies, it is sent to another node. Only once
    /// there are several nodes: on one, there is nothing to weigh and nowhere else to go.
    /// </summary>
    public void Follow(ObjectHandle handle, SubmitTask submit, ResolvedEnv env, AnalyzedCall call, SchedulingStrategy strategy)
    {
        if (!_severalNodes)
        {
            return;
        }

        var cpus = submit.Resources.NumCpus;
        var session = handle.Session;
        _inFlight.AddOrUpdate(session, cpus, (_, busy) => busy + cpus);
        if (submit.MaxRetries > 0)
        {
            _retryable[submit.WorkId] = new PlacedTask(handle, submit, env, call.Dependencies, strategy);
        }

        _ = handle.Ready.ContinueWith(
            ready =>
            {
                _inFlight.AddOrUpdate(handle.Session, 0, (_, busy) => Math.Max(0, busy - cpus));
                if (_retryable.TryRemove(submit.WorkId, out var placed) && ready.Result.ResultCase == ObjectReady.ResultOneofCase.StoredLength)
                {
                    // Only its node holds it: if that node cannot give it, the task runs again elsewhere,
                    // while the arguments that takes fit in the lineage budget.
                    handle.Rebuild = lost => RebuildElsewhere(placed, lost);
                    _lineage.Keep(handle, placed.Dependencies);
                }
            },
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>
    /// Follows an actor this connection created: if it may be restarted and its node dies, it is
    /// created again on another node, and calls made after that go there.
    /// </summary>
    public void FollowActor(CreateActor create, Session session, ResolvedEnv env, AnalyzedCall call, SchedulingStrategy strategy)
    {
        if (_severalNodes && create.MaxRestarts > 0)
        {
            _restartable[create.ActorId] = new PlacedActor(create, session, env, call.Dependencies, strategy);
        }
    }

    /// <summary>The actor was killed: it is not to be restarted anywhere.</summary>
    public void ForgetActor(string actorId) => _restartable.TryRemove(actorId, out _);

    /// <summary>
    /// The session with node <paramref name="nodeId"/>, opened on first use; the home session for
    /// this process's own node, or for an empty id (a handle from before nodes were told apart).
    /// </summary>
    /// <exception cref="InvalidOperationException">The node is not alive in the head's list (it died, or never joined).</exception>
    public Session Session(string nodeId) =>
        OpenLiveSession(nodeId) ?? throw new InvalidOperationException($"node {nodeId} is not an alive node of the cluster");

    /// <summary>
    /// As <see cref="Session"/>, but null for a node not alive in the list this connection has; no
    /// call to the head. A connection is only ever opened to a node alive in the running head: an
    /// address from a dead node's record, or a record someone planted, could be anyone's, and the
    /// token goes with the first request.
    /// </summary>
    private Session? OpenLiveSession(string nodeId)
    {
        if (nodeId.Length == 0 || nodeId == Home.NodeId)
        {
            return Home;
        }

        if (_siblings.TryGetValue(nodeId, out var session))
        {
            return session;
        }

        if (_nodes.Live.FirstOrDefault(n => n.Node.NodeId == nodeId) is not { } node)
        {
            return null;
        }

        session = _siblings.GetOrAdd(nodeId, _ => Home.OpenSibling(Endpoint.Parse(node.Node.Address)));
        EnsureWatching();
        return session;
    }

    /// <summary>
    /// Has every live node build <paramref name="env"/> now, and each node that joins later once this
    /// connection hears of it: the job env's eager install, so that the first task does not wait.
    /// </summary>
    public void PrepareEverywhere(ResolvedEnv env)
    {
        _eagerEnv = env;
        PrepareEagerEnv();
        EnsureWatching();
    }

    private void PrepareEagerEnv()
    {
        if (_eagerEnv is not { } env)
        {
            return;
        }

        foreach (var node in _nodes.Live)
        {
            try
            {
                OpenLiveSession(node.Node.NodeId)?.PrepareEnv(env);
            }
            catch (InvalidOperationException)
            {
                // Its session has ended (the node died): the next node still gets the env.
            }
        }
    }

    private void EnsureWatching()
    {
        if (_watch is null)
        {
            var watch = _clock.CreateTimer(_ => RefreshIfStale(), null, RefreshInterval, RefreshInterval);
            if (Interlocked.CompareExchange(ref _watch, watch, null) is not null)
            {
                watch.Dispose();
            }
        }
    }

    /// <summary>
    /// As <see cref="OpenLiveSession"/>, asking the head when the node is not in this connection's
    /// list (it joined since) or a restarted head has not heard from it again yet, which it soon will.
    /// </summary>
    private async Task<Session?> FindLiveSessionAsync(string nodeId, CancellationToken ct)
    {
        if (OpenLiveSession(nodeId) is { } known)
        {
            return known;
        }

        if (_nodes.Dead.Contains(nodeId) && !_nodes.Restored.Contains(nodeId))
        {
            // Known dead: the periodic refresh would say if it came back; no call to the head here.
            return null;
        }

        var since = _clock.GetTimestamp();
        while (true)
        {
            _nodes = new NodeList(await ListNodesAsync(_head, ct).ConfigureAwait(false));
            if (OpenLiveSession(nodeId) is { } found)
            {
                return found;
            }

            if (!_nodes.Restored.Contains(nodeId) || _clock.GetElapsedTime(since) > RestoredNodeWait)
            {
                return null;
            }

            await Task.Delay(RefreshInterval / 5, _clock, ct).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_watch is { } watch)
        {
            await watch.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var sibling in _siblings.Values)
        {
            await sibling.DisposeAsync().ConfigureAwait(false);
        }

        await Home.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Reads the head's node list now, waiting for it (at most 10 s): a blocking call, made only when
    /// a placement cannot wait for the next refresh.
    /// </summary>
    /// <exception cref="InvalidOperationException">The head did not answer.</exception>
    private void ListNodesNow()
    {
        try
        {
            _nodes = new NodeList(_head.ListNodes(new ListNodesRequest(), deadline: DateTime.UtcNow.AddSeconds(10)).Nodes);
            _severalNodes = _nodes.Live.Count > 1;
        }
        catch (Grpc.Core.RpcException e)
        {
            throw new InvalidOperationException($"the head did not answer ({e.StatusCode}: {e.Status.Detail}), so the nodes that could take the work are not known", e);
        }
    }

    private NodeView ToView(NodeState node) =>
        new(node.Node.NodeId, node.Node.Address, node.Node.Resources, node.Available)
        {
            InFlightCpus = node.Node.NodeId == Home.NodeId ? _inFlight.GetValueOrDefault(Home)
                : _siblings.TryGetValue(node.Node.NodeId, out var sibling) ? _inFlight.GetValueOrDefault(sibling) : 0,
        };

    private void RefreshIfStale()
    {
        if (_clock.GetElapsedTime(Interlocked.Read(ref _refreshedAt)) < RefreshInterval ||
            Interlocked.Exchange(ref _refreshing, 1) != 0)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                _nodes = new NodeList(await ListNodesAsync(_head, CancellationToken.None).ConfigureAwait(false));
                AbandonDeadNodes();
                PrepareEagerEnv();
            }
            catch (Grpc.Core.RpcException)
            {
                // The head is away for a moment: keep placing with what is known.
            }
            finally
            {
                Interlocked.Exchange(ref _refreshedAt, _clock.GetTimestamp());
                Volatile.Write(ref _refreshing, 0);
            }
        });
    }

    /// <summary>
    /// Work on another node the head declared dead is lost now, not after the session's resume
    /// window. (A node a restarted head lists as restored is not dead: it registers again within a
    /// second.) The session stays reachable until its actors' restarts are set up, so that a call
    /// made meanwhile waits for the new instance rather than failing.
    /// </summary>
    private void AbandonDeadNodes()
    {
        foreach (var node in _nodes.All.Where(n => !n.Alive && !n.Restored))
        {
            if (!_siblings.TryGetValue(node.Node.NodeId, out var session) || !session.MarkDead())
            {
                continue;
            }

            var reason = $"node {node.Node.NodeId} ({node.Node.Address}) died: the head has not heard from it";
            RetryElsewhere(session, reason);
            RestartElsewhere(session, reason);
            _siblings.TryRemove(node.Node.NodeId, out _);
            session.Abandon(reason);
            _inFlight.TryRemove(session, out _);
            _ = session.DisposeAsync().AsTask();
        }
    }

    /// <summary>
    /// Sends the unfinished tasks of a dead node that have retries left to other nodes, one retry
    /// spent each, under the same task id: their refs complete from there.
    /// </summary>
    private void RetryElsewhere(Session dead, string reason)
    {
        foreach (var task in _retryable.Values.Where(t => t.Handle.Session == dead).ToList())
        {
            // Taken from the dead session now, before it fails what it still awaits.
            if (dead.Detach(task.Submit.WorkId) is { } handle)
            {
                _ = RetryAsync(task, handle, reason);
            }
        }
    }

    /// <remarks>
    /// As when a lost result is made again (see <see cref="RebuildAsync"/>), the task's arguments
    /// are fetched here first, and made again first if their node died too, then sent from here.
    /// </remarks>
    private async Task RetryAsync(PlacedTask task, ObjectHandle handle, string reason)
    {
        foreach (var dependency in task.Dependencies)
        {
            await dependency.ValueAsync().ConfigureAwait(false);
        }

        var retry = task.Submit.Clone();
        retry.MaxRetries--;
        Session target;
        try
        {
            (target, _) = Place(retry.Resources, retry.Function.Method, "options", task.Strategy);
            target.DefineEnv(task.Env);
            foreach (var dependency in task.Dependencies)
            {
                target.ShareWithNode(dependency, throughThisProcess: true);
            }
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or Grpc.Core.RpcException)
        {
            handle.Complete(new ObjectReady
            {
                ObjectId = handle.Id,
                Error = new TaskError { Kind = ErrorKind.ObjectLost, Message = $"{reason}; its task cannot be retried: {e.Message}" },
            });
            return;
        }

        target.Adopt(handle);
        target.Send(new ClientRequest { SubmitTask = retry });
        _retryable[retry.WorkId] = task with { Submit = retry };
        _inFlight.AddOrUpdate(target, retry.Resources.NumCpus, (_, busy) => busy + retry.Resources.NumCpus);
    }

    /// <summary>
    /// Creates the dead node's actors that have restarts left again on other nodes (one restart
    /// spent, constructor run again, same actor id), and tells the head where they are now. Calls
    /// this process made that were not sent yet follow them (see <see cref="ActorCaller.HandOverTo"/>).
    /// </summary>
    private void RestartElsewhere(Session dead, string reason)
    {
        foreach (var actor in _restartable.Values.Where(a => a.Session == dead).ToList())
        {
            var create = actor.Create.Clone();
            create.MaxRestarts--;
            Session target;
            string nodeId;
            try
            {
                (target, nodeId) = Place(create.Resources, create.Constructor.Type, "options", actor.Strategy);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or Grpc.Core.RpcException)
            {
                // No live node can hold it (or the one chosen died meanwhile, or the head is away): it
                // stays dead, and its calls fail with ActorDiedException.
                _restartable.TryRemove(create.ActorId, out _);
                continue;
            }

            target.DefineEnv(actor.Env);
            foreach (var dependency in actor.Dependencies)
            {
                target.ShareWithNode(dependency);
            }

            target.Send(new ClientRequest { CreateActor = create });
            // Before calls are pointed at the new node: the ones waiting on the old node go first.
            dead.ExistingCallerOf(create.ActorId)?.HandOverTo(target.CallerOf(create.ActorId), reason);
            _moved[create.ActorId] = nodeId;
            _restartable[create.ActorId] = actor with { Create = create, Session = target };
            _ = AnnounceMoveAsync(create, nodeId);
        }
    }

    /// <summary>
    /// Points the head's directory at a moved actor's new node: its name, for drivers that look it
    /// up, and its id, for handles that other processes hold (passed to tasks, say).
    /// </summary>
    private async Task AnnounceMoveAsync(CreateActor create, string nodeId)
    {
        try
        {
            await _head.RecordActorMovedAsync(new RecordActorMovedRequest
            {
                ActorId = create.ActorId, NodeId = nodeId, ClassName = create.Constructor.Type, Detached = create.Detached,
            }).ConfigureAwait(false);
            if (create.Name.Length > 0)
            {
                await _head.RegisterActorNameAsync(new RegisterActorNameRequest
                {
                    Name = create.Name, ActorId = create.ActorId, NodeId = nodeId, ClassName = create.Constructor.Type, Detached = create.Detached,
                }).ConfigureAwait(false);
            }
        }
        catch (Grpc.Core.RpcException)
        {
            // The head is away: the directory points at the dead node until the actor is created again.
        }
    }

    private static bool Fits(ResourceRequest demand, IReadOnlyDictionary<string, double> total) =>
        demand.NumCpus <= total.GetValueOrDefault(NodeView.Cpu) && demand.Custom.All(kv => kv.Value <= total.GetValueOrDefault(kv.Key));

    private static ArgumentException Infeasible(ResourceRequest demand, string what, IEnumerable<NodeView> nodes, string paramName) =>
        new($"{what} asks for {Wanted(demand)}, which no node of the cluster offers (nodes offer: {string.Join("; ", nodes.Select(n => Offered(n.Total)))})", paramName);

    private static string Wanted(ResourceRequest demand) => string.Join(", ", demand.Custom.Select(kv => $"{kv.Key}={kv.Value}").Prepend($"CPU={demand.NumCpus}"));

    private static string Offered(IReadOnlyDictionary<string, double> total) => string.Join(", ", total.Select(kv => $"{kv.Key}={kv.Value}"));

    private sealed class NodeList(IReadOnlyList<NodeState> all)
    {
        public IReadOnlyList<NodeState> All { get; } = all;

        public IReadOnlyList<NodeState> Live { get; } = [.. all.Where(n => n.Alive)];

        public HashSet<string> Dead { get; } = [.. all.Where(n => !n.Alive).Select(n => n.Node.NodeId)];

        public HashSet<string> Restored { get; } = [.. all.Where(n => n.Restored).Select(n => n.Node.NodeId)];
    }

    private sealed record PlacedActor(CreateActor Create, Session Session, ResolvedEnv Env, IReadOnlyList<ObjectHandle> Dependencies, SchedulingStrategy Strategy);

    private sealed record PlacedTask(ObjectHandle Handle, SubmitTask Submit, ResolvedEnv Env, IReadOnlyList<ObjectHandle> Dependencies, SchedulingStrategy Strategy);
}
