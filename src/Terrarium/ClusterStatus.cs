namespace Terrarium;

/// <summary>A snapshot of a cluster: its nodes, their resources, workers and runtime envs, and the head's package store.</summary>
/// <param name="Nodes">Every node the head knows, live or dead.</param>
/// <param name="Packages">The packages (<c>pkg://</c> archives) in the head's store.</param>
public sealed record ClusterStatus(IReadOnlyList<NodeSummary> Nodes, IReadOnlyList<PackageSummary> Packages)
{
    /// <summary>Bytes the head's package store may hold before packages no job uses are deleted, least recently used first.</summary>
    public long PackageStoreLimit { get; init; }
}

/// <summary>One package in the head's content-addressed store.</summary>
/// <param name="Hash">The SHA-256 of the archive; its URI is <c>pkg://</c> followed by it.</param>
/// <param name="Size">The archive's size in bytes.</param>
/// <param name="Uploads">How often it was uploaded: drivers skip the upload when the head has it.</param>
public sealed record PackageSummary(string Hash, long Size, int Uploads)
{
    /// <summary>The jobs that use it, running or ended with detached actors alive: while one does, it is never collected.</summary>
    public IReadOnlyList<string> Jobs { get; init; } = [];

    /// <summary>When it was last uploaded, asked for by a job, or downloaded by a node.</summary>
    public DateTimeOffset LastUsed { get; init; }

    /// <summary>Used within the head's protection window (10 minutes by default): kept even when no job uses it.</summary>
    public bool Protected { get; init; }
}

/// <summary>One node's state.</summary>
/// <param name="NodeId">The node's id.</param>
/// <param name="Address">Where drivers reach it.</param>
/// <param name="Alive">Whether it heartbeats.</param>
/// <param name="Total">Resources it offers (<c>CPU</c> and custom).</param>
/// <param name="Available">Resources free now.</param>
/// <param name="Workers">Its worker processes (empty for a node that could not be asked).</param>
/// <param name="RuntimeEnvs">Runtime envs it has built or is building.</param>
/// <param name="QueuedTasks">Tasks waiting for resources.</param>
/// <param name="Objects">Objects it holds.</param>
/// <param name="NuGetRestores">NuGet restores it has run; envs whose packages were restored before reuse them.</param>
/// <param name="ObjectBytes">The bytes of the values of the objects it holds.</param>
/// <param name="ObjectStore">Where its large values live: its shared-memory store (and where), or its own memory and why.</param>
public sealed record NodeSummary(
    string NodeId, string Address, bool Alive,
    IReadOnlyDictionary<string, double> Total, IReadOnlyDictionary<string, double> Available,
    IReadOnlyList<WorkerSummary> Workers, IReadOnlyList<RuntimeEnvSummary> RuntimeEnvs, int QueuedTasks, int Objects, int NuGetRestores,
    long ObjectBytes = 0, string ObjectStore = "")
{
    /// <summary>The folders of its env cache (unpacked packages, venvs, conda envs, NuGet packages): size, users, last use.</summary>
    public IReadOnlyList<CachedResourceSummary> CachedResources { get; init; } = [];

    /// <summary>Bytes each kind of cached folder may take on it before unused ones are deleted, by kind.</summary>
    public IReadOnlyDictionary<string, long> CacheLimits { get; init; } = new Dictionary<string, long>();

    /// <summary>The actors it hosts: alive, on their way, or dead (until their job ends).</summary>
    public IReadOnlyList<ActorSummary> Actors { get; init; } = [];
}

/// <summary>One actor, as its node sees it.</summary>
/// <param name="ActorId">Its id.</param>
/// <param name="ClassName">The full name of its class.</param>
/// <param name="Name">Its cluster-wide name; null for an unnamed actor.</param>
/// <param name="State"><c>pending</c> (waiting for its env, arguments or resources), <c>starting</c>, <c>alive</c> or <c>dead</c>.</param>
/// <param name="JobId">The job that created it.</param>
/// <param name="Restarts">How often its worker was restarted, of <paramref name="MaxRestarts"/>.</param>
/// <param name="MaxRestarts">How often it may be.</param>
/// <param name="Detached">Whether it outlives its job (<see cref="ActorLifetime.Detached"/>).</param>
/// <param name="Pid">Its worker's process id; null when it has none.</param>
/// <param name="DeathCause">Why it died; null unless dead.</param>
public sealed record ActorSummary(string ActorId, string ClassName, string? Name, string State, string JobId, int Restarts, int MaxRestarts, bool Detached, int? Pid, string? DeathCause);

/// <summary>A folder of a node's env cache.</summary>
/// <param name="Kind"><c>working_dir</c> (every shipped package), <c>pip</c>, <c>conda</c>, <c>nuget</c> or <c>container</c> (an image the node pulled): the limit it counts against.</param>
/// <param name="Name">Its path in the node's cache folder.</param>
/// <param name="Size">Bytes on disk.</param>
/// <param name="Users">Workers, waiting tasks and actors of the envs that use it; 0 when unused (then it may be deleted).</param>
/// <param name="LastUsed">When work last needed an env that uses it.</param>
/// <param name="RuntimeEnvHashes">The envs built on the node that use it.</param>
public sealed record CachedResourceSummary(string Kind, string Name, long Size, int Users, DateTimeOffset LastUsed, IReadOnlyList<string> RuntimeEnvHashes);

/// <summary>One worker process.</summary>
/// <param name="WorkerId">Its id.</param>
/// <param name="Pid">Its process id.</param>
/// <param name="JobId">The job it works for.</param>
/// <param name="RuntimeEnvHash">The hash of its runtime env; empty for none.</param>
/// <param name="ActorId">The actor it hosts; null for a task worker.</param>
/// <param name="State"><c>warm</c> (pre-started, ready for any job and env), <c>starting</c>, <c>idle</c>, <c>busy</c>, <c>blocked</c> or <c>dead</c>.</param>
/// <param name="TasksRun">How many tasks it has finished.</param>
public sealed record WorkerSummary(string WorkerId, int Pid, string JobId, string RuntimeEnvHash, string? ActorId, string State, int TasksRun);

/// <summary>One runtime env on a node.</summary>
/// <param name="Hash">Its identity.</param>
/// <param name="State"><c>building</c>, <c>ready</c> or <c>failed</c>.</param>
/// <param name="Workers">Live workers using it.</param>
public sealed record RuntimeEnvSummary(string Hash, string State, int Workers)
{
    /// <summary>Tasks that wait on the node for it (or for a worker of it).</summary>
    public int Tasks { get; init; }

    /// <summary>Actors in it, alive or starting.</summary>
    public int Actors { get; init; }

    /// <summary>When work last needed it on the node; null if none has yet (built eagerly).</summary>
    public DateTimeOffset? LastUsed { get; init; }

    /// <summary>The fields it sets (<c>env_vars</c>, <c>working_dir</c>, …), in canonical order.</summary>
    public IReadOnlyList<string> Fields { get; init; } = [];
}
