using Terrarium.Protocol;

namespace Terrarium.Head.State;

/// <summary>What the head knows, in memory. One lock: the head's traffic is small.</summary>
internal sealed class HeadState(HeadOptions options)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, NodeRecord> _nodes = [];
    private readonly Dictionary<string, JobRecord> _jobs = [];
    private readonly HashSet<string> _activeSubmissions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LookupActorReply> _actorNames = [];
    // Actors created again on another node, by actor id: handles of unnamed ones find them here.
    private readonly Dictionary<string, LookupActorReply> _movedActors = [];
    // Jobs that ended lately, numbered, for nodes to learn of with their heartbeats.
    private readonly List<(long Number, string JobId, DateTimeOffset At)> _ended = [];
    private long _lastEnded;

    /// <summary>This head's list of ended jobs, told apart from a previous head's (whose numbers a node may hold).</summary>
    public string EndedJobsEpoch { get; } = Guid.NewGuid().ToString("N");
    private int _nextJob;

    /// <summary>
    /// Takes back what a previous head stored. Its nodes are known but not alive until they register
    /// again (a node's next heartbeat, within a second, is answered "unknown" and it registers anew):
    /// until then they are listed as restored, and a node that does not come back within the death
    /// timeout is dead — never offered to drivers, and forgotten after the retention.
    /// </summary>
    public void Restore(StoredHeadState stored)
    {
        lock (_lock)
        {
            var now = options.TimeProvider.GetUtcNow();
            foreach (var node in stored.Nodes)
            {
                _nodes[node.NodeId] = new NodeRecord(node) { LastSeen = now, Restored = true };
            }

            foreach (var (id, job) in stored.Jobs)
            {
                _jobs[id] = new JobRecord(job.Driver, job.DefaultRuntimeEnv);
                _nextJob = Math.Max(_nextJob, JobNumber(id));
            }

            foreach (var (name, actor) in stored.ActorNames)
            {
                _actorNames[name] = actor;
            }

            foreach (var actor in stored.MovedActors)
            {
                _movedActors[actor.ActorId] = actor;
            }
        }
    }

    public void RegisterNode(NodeInfo node)
    {
        lock (_lock)
        {
            _nodes[node.NodeId] = new NodeRecord(node) { LastSeen = options.TimeProvider.GetUtcNow() };
        }
    }

    /// <summary>
    /// A node's heartbeat: what it has available, the jobs whose detached actors live on it, and how
    /// far it had read the list of ended jobs when it looked (<paramref name="endedCursor"/> of
    /// <paramref name="endedEpoch"/>). False when the head does not know it alive (it should register again).
    /// </summary>
    public bool Heartbeat(string nodeId, IDictionary<string, double> available, IEnumerable<string> detachedActorJobs, long endedCursor = 0, string endedEpoch = "")
    {
        lock (_lock)
        {
            if (!_nodes.TryGetValue(nodeId, out var record) || !IsAlive(record))
            {
                return false;
            }

            record.LastSeen = options.TimeProvider.GetUtcNow();
            record.Available = new Dictionary<string, double>(available);
            record.DetachedActorJobs = detachedActorJobs.ToHashSet(StringComparer.Ordinal);
            record.EndedJobsRead = endedEpoch == EndedJobsEpoch ? endedCursor : 0;
            return true;
        }
    }

    /// <summary>Forgets the nodes dead for longer than <see cref="HeadOptions.DeadNodeRetention"/>; their ids.</summary>
    /// <returns>
    /// The nodes forgotten, and the names and move records dropped with them: those of detached
    /// actors whose job ended and whose node is forgotten, which no driver is left to free.
    /// </returns>
    public (List<string> Nodes, List<string> FreedNames, List<string> DroppedMoves) ForgetLongDeadNodes()
    {
        lock (_lock)
        {
            var now = options.TimeProvider.GetUtcNow();
            var forgotten = _nodes.Values.Where(r => now - r.LastSeen >= options.EffectiveDeadNodeRetention).Select(r => r.Info.NodeId).ToList();
            foreach (var id in forgotten)
            {
                _nodes.Remove(id);
            }

            var freed = _actorNames.Where(kv => DiedWithItsNode(kv.Value)).Select(kv => kv.Key).ToList();
            foreach (var name in freed)
            {
                _actorNames.Remove(name);
            }

            var dropped = _movedActors.Where(kv => DiedWithItsNode(kv.Value)).Select(kv => kv.Key).ToList();
            foreach (var id in dropped)
            {
                _movedActors.Remove(id);
            }

            return (forgotten, freed, dropped);
        }
    }

    /// <summary>
    /// Whether a detached actor is gone with its node, the head having forgotten that node, and no
    /// running job of its own is left to move it. Called under the lock.
    /// </summary>
    private bool DiedWithItsNode(LookupActorReply actor) =>
        actor.Detached && !_nodes.ContainsKey(actor.NodeId) && !_jobs.Keys.Any(job => actor.ActorId.StartsWith($"{job}/", StringComparison.Ordinal));

    public List<NodeState> ListNodes()
    {
        lock (_lock)
        {
            return _nodes.Values.Select(r =>
            {
                var state = new NodeState { Node = r.Info, Alive = IsAlive(r), Restored = r.Restored && !IsDeadByTimeout(r) };
                state.Available.Add(r.Available);
                return state;
            }).ToList();
        }
    }

    public string RegisterJob(string driver, string defaultEnv)
    {
        lock (_lock)
        {
            var id = $"job-{++_nextJob:D4}-{Guid.NewGuid().ToString("N")[..6]}";
            _jobs[id] = new JobRecord(driver, defaultEnv);
            return id;
        }
    }

    /// <summary>
    /// Whether the job's packages are still needed: it runs, or its detached actors live on a node
    /// the head has not forgotten — or may live on one whose last report does not tell: one that has
    /// not reported since it registered or since this head restarted, or whose report predates its
    /// hearing of the job's end (an actor made just before the end may not have been in it).
    /// </summary>
    public bool NeedsPackagesOf(string jobId)
    {
        lock (_lock)
        {
            if (_jobs.ContainsKey(jobId) || _activeSubmissions.Contains(jobId))
            {
                return true;
            }

            var endedAs = _ended.FirstOrDefault(e => e.JobId == jobId).Number;
            return _nodes.Values.Any(r => r.DetachedActorJobs is not { } held || held.Contains(jobId) || r.EndedJobsRead < endedAs);
        }
    }

    /// <summary>
    /// A submitted job that has not ended keeps the packages uploaded for it (its working dir, under
    /// its submission id) until its driver, a job of its own, uses them too.
    /// </summary>
    public void HoldPackagesForSubmission(string submissionId, bool hold)
    {
        lock (_lock)
        {
            _ = hold ? _activeSubmissions.Add(submissionId) : _activeSubmissions.Remove(submissionId);
        }
    }

    /// <summary>Whether the node is dead, or unknown: not one a restarted head may still hear from within the death timeout.</summary>
    public bool IsGone(string nodeId)
    {
        lock (_lock)
        {
            return !_nodes.TryGetValue(nodeId, out var record) || IsDeadByTimeout(record);
        }
    }

    /// <summary>How long an ended job stays in the list nodes read with their heartbeats: far longer than a heartbeat's interval.</summary>
    public static readonly TimeSpan EndedJobsKept = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The jobs that ended after <paramref name="cursor"/>, and the cursor to ask from next. A cursor
    /// of another epoch (a previous head's) reads the list from its start.
    /// </summary>
    public (List<string> JobIds, long Cursor) EndedJobsSince(long cursor, string epoch)
    {
        lock (_lock)
        {
            if (epoch != EndedJobsEpoch)
            {
                cursor = 0;
            }

            return (_ended.Where(e => e.Number > cursor).Select(e => e.JobId).ToList(), _lastEnded);
        }
    }

    /// <returns>The names of the job's actors, released with it, and the ids of its actors that had moved.</returns>
    public (List<string> Names, List<string> MovedActorIds) FinishJob(string jobId)
    {
        lock (_lock)
        {
            _jobs.Remove(jobId);
            var now = options.TimeProvider.GetUtcNow();
            _ended.RemoveAll(e => now - e.At > EndedJobsKept);
            if (!_ended.Any(e => e.JobId == jobId))
            {
                _ended.Add((++_lastEnded, jobId, now));
            }

            // A detached actor keeps its name until it dies (with its node, if the head forgot that already).
            var released = _actorNames.Where(kv => kv.Value.ActorId.StartsWith(jobId, StringComparison.Ordinal) && (!kv.Value.Detached || DiedWithItsNode(kv.Value)))
                .Select(kv => kv.Key).ToList();
            foreach (var name in released)
            {
                _actorNames.Remove(name);
            }

            var moved = _movedActors.Where(kv => kv.Key.StartsWith(jobId, StringComparison.Ordinal) && (!kv.Value.Detached || DiedWithItsNode(kv.Value)))
                .Select(kv => kv.Key).ToList();
            foreach (var id in moved)
            {
                _movedActors.Remove(id);
            }

            return (released, moved);
        }
    }

    /// <returns>False when the name is taken by a different actor.</returns>
    public bool TryRegisterActorName(RegisterActorNameRequest request)
    {
        lock (_lock)
        {
            if (_actorNames.TryGetValue(request.Name, out var existing) && existing.ActorId != request.ActorId)
            {
                return false;
            }

            _actorNames[request.Name] = new LookupActorReply
            {
                Found = true, ActorId = request.ActorId, NodeId = request.NodeId, ClassName = request.ClassName, Detached = request.Detached,
            };
            return true;
        }
    }

    /// <returns>True when the name was the actor's and is free now.</returns>
    public bool ReleaseActorName(string name, string actorId)
    {
        lock (_lock)
        {
            return _actorNames.TryGetValue(name, out var existing) && existing.ActorId == actorId && _actorNames.Remove(name);
        }
    }

    public LookupActorReply LookupActor(string name)
    {
        lock (_lock)
        {
            return _actorNames.TryGetValue(name, out var reply) ? reply : new LookupActorReply { Found = false };
        }
    }

    public LookupActorReply RecordActorMoved(RecordActorMovedRequest request)
    {
        lock (_lock)
        {
            return _movedActors[request.ActorId] = new LookupActorReply
            {
                Found = true, ActorId = request.ActorId, NodeId = request.NodeId, ClassName = request.ClassName, Detached = request.Detached,
            };
        }
    }

    /// <summary>Where an actor lives that moved to another node; not found for one that never moved.</summary>
    public LookupActorReply LookupMovedActor(string actorId)
    {
        lock (_lock)
        {
            return _movedActors.TryGetValue(actorId, out var reply) ? reply : new LookupActorReply { Found = false };
        }
    }

    /// <summary>The number in <c>job-0042-…</c>, so that a restored head numbers new jobs after it.</summary>
    private static int JobNumber(string jobId) =>
        jobId.Split('-') is [_, var number, ..] && int.TryParse(number, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : 0;

    private bool IsAlive(NodeRecord record) => !record.Restored && !IsDeadByTimeout(record);

    private bool IsDeadByTimeout(NodeRecord record) => options.TimeProvider.GetUtcNow() - record.LastSeen >= options.NodeDeathTimeout;

    private sealed class NodeRecord(NodeInfo info)
    {
        public NodeInfo Info { get; } = info;

        public DateTimeOffset LastSeen { get; set; }

        /// <summary>Known from a previous head's state, and not heard from since: not alive until it registers.</summary>
        public bool Restored { get; init; }

        public Dictionary<string, double> Available { get; set; } = new(info.Resources);

        /// <summary>The jobs whose detached actors live on it, as of its last heartbeat; null before its first.</summary>
        public HashSet<string>? DetachedActorJobs { get; set; }

        /// <summary>How far it had read this head's list of ended jobs when it made its last report (0 for another head's list).</summary>
        public long EndedJobsRead { get; set; }
    }

    private sealed record JobRecord(string Driver, string DefaultEnv);
}
