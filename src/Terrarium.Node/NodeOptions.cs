using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Node;

/// <summary>Settings of a node daemon (or of the node embedded in a driver).</summary>
public sealed class NodeOptions
{
    /// <summary>A unique id. Default: a new one.</summary>
    public string NodeId { get; init; } = "node-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>Where the node listens for drivers and workers. Required; the first Unix socket serves workers.</summary>
    public IReadOnlyList<Endpoint> Endpoints { get; init; } = [];

    /// <summary>
    /// The host name or IP drivers and other nodes reach this node's TCP endpoint at, registered with
    /// the head. Default: null, the endpoint's own host; set it when listening on a wildcard address.
    /// </summary>
    public string? AdvertisedHost { get; init; }

    /// <summary>The head this node joins. Required.</summary>
    public Endpoint? Head { get; init; }

    /// <summary>The cluster token. Required.</summary>
    public string Token { get; init; } = "";

    /// <summary>
    /// How the node's TCP endpoint is served and other servers (head, nodes) trusted. With TLS and
    /// no <see cref="ClusterTls.ServerCertificate"/>, the node asks the head for one, signed by the
    /// cluster's CA, before it listens. Default: <see cref="ClusterTls.UnixOnly"/>, for a node on
    /// Unix sockets only.
    /// </summary>
    public ClusterTls Tls { get; init; } = ClusterTls.UnixOnly;

    /// <summary>CPUs the node offers. Default: <see cref="Environment.ProcessorCount"/>.</summary>
    public double NumCpus { get; init; } = Environment.ProcessorCount;

    /// <summary>Custom resources the node offers (name → amount). Default: none.</summary>
    public IReadOnlyDictionary<string, double> Resources { get; init; } = new Dictionary<string, double>();

    /// <summary>How workers are started. Required.</summary>
    public WorkerHostCommand? WorkerHost { get; init; }

    /// <summary>Where the node keeps worker logs and sockets for this run. Required.</summary>
    public string SessionDirectory { get; init; } = "";

    /// <summary>
    /// The tmpfs the node's shared-memory object store lives on (in a private folder of its own):
    /// large values are files there, which workers and drivers of this machine map instead of
    /// copying. Default: <c>/dev/shm</c>. Null keeps values in the node's own memory; so does a
    /// folder that is not tmpfs, or too small (the node logs why, and its status says so).
    /// </summary>
    public string? ObjectStoreRoot { get; init; } = DefaultObjectStoreRoot;

    /// <summary>Where the shared-memory store lives unless told otherwise: the machine's usual tmpfs.</summary>
    public const string DefaultObjectStoreRoot = "/dev/shm";

    /// <summary>
    /// How many bytes of values the shared-memory store holds before the least recently used spill
    /// to disk (the node's cache folder). Default: null, 30% of the memory this process may use (the
    /// machine's, or its cgroup's limit), as Ray's object store.
    /// </summary>
    public long? ObjectStoreMemory { get; init; }

    /// <summary><see cref="ObjectStoreMemory"/>, or its default.</summary>
    internal long ObjectStoreCapacity => ObjectStoreMemory ?? (GC.GetGCMemoryInfo().TotalAvailableMemoryBytes is > 0 and var total ? total * 3 / 10 : long.MaxValue);

    /// <summary>Where the node caches packages and built environments across runs. Required.</summary>
    public string CacheDirectory { get; init; } = "";

    /// <summary>
    /// Bytes each kind of cached resource (<c>working_dir</c>, <c>pip</c>, <c>conda</c>, <c>nuget</c>,
    /// <c>container</c>: images the node pulled) may take before unused ones are deleted, least recently used first; a kind not given gets
    /// <see cref="RuntimeEnvs.Caching.CacheLimits.DefaultBytes"/>. Default: none given.
    /// </summary>
    public IReadOnlyDictionary<string, long> CacheLimits { get; init; } = new Dictionary<string, long>();

    /// <summary>How often the node checks its cache against <see cref="CacheLimits"/>, besides after each env it builds. Default: one minute.</summary>
    public TimeSpan CacheCollectInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The NuGet.Config restores use (sources, credentials). Default: null, NuGet's usual lookup from
    /// the restore directory and the user's and machine's configs.
    /// </summary>
    public string? NuGetConfigFile { get; init; }

    /// <summary>How workers run in containers (<c>container</c> in a runtime env). Default: podman, no extra options.</summary>
    public ContainerRuntimeOptions Containers { get; init; } = new();

    /// <summary>How <c>pip</c> and <c>conda</c> envs are built. Default: <c>python3</c>, and the conda tool found on PATH.</summary>
    public PythonOptions Python { get; init; } = new();

    /// <summary>The most an archive from outside may unpack to. Default: 4 GiB.</summary>
    public long MaxUnpackedBytes { get; init; } = 4L << 30;

    /// <summary>The most files and folders an archive from outside may hold. Default: 100,000.</summary>
    public int MaxUnpackedEntries { get; init; } = 100_000;

    /// <summary>
    /// Generic workers kept started ahead of need: a new job or env takes one and specialises it
    /// (env vars, working dir, assemblies) instead of waiting for a process to start. Default: 1.
    /// </summary>
    public int PrestartWorkers { get; init; } = 1;

    /// <summary>
    /// How long a session whose stream broke (not closed by its client) is kept, with its job and
    /// work, for the client to resume on a new stream. Default: 30 seconds.
    /// </summary>
    public TimeSpan SessionResumeGrace { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How many worker processes may be starting at once (from launch until the worker attached, or
    /// its actor started); more wait their turn. Default: the machine's processor count, at least 2.
    /// </summary>
    public int MaxStartingWorkers { get; init; } = Math.Max(2, Environment.ProcessorCount);

    /// <summary>A task worker idle this long is stopped. Default: 30 seconds.</summary>
    public TimeSpan IdleWorkerTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How many tasks of one env may be sent to a busy task worker ahead of time, so that short tasks
    /// do not each wait for a round trip to the node. Default: 8; 1 turns pipelining off.
    /// </summary>
    public int MaxTasksInFlightPerWorker { get; init; } = 8;

    /// <summary>
    /// Tasks sent ahead to a worker whose running task has taken this long are taken back when
    /// resources are free elsewhere, so that a long task does not hold up short ones. Default: 200 ms.
    /// </summary>
    public TimeSpan RebalanceAfter { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>A worker that has not attached this long after its start is killed. Default: 60 seconds.</summary>
    public TimeSpan WorkerStartTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>A failed runtime-env setup is not retried for this long. Default: 30 seconds.</summary>
    public TimeSpan FailedSetupRetryDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The clock. Default: <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    internal Endpoint WorkerEndpoint => Endpoints.FirstOrDefault(e => e.SocketPath is not null) ?? Endpoints[0];

    internal void Validate()
    {
        if (Endpoints.Count == 0)
        {
            throw new ArgumentException($"{nameof(Endpoints)} must name at least one endpoint", nameof(Endpoints));
        }

        ArgumentNullException.ThrowIfNull(Head, nameof(Head));
        ArgumentNullException.ThrowIfNull(WorkerHost, nameof(WorkerHost));
        ArgumentException.ThrowIfNullOrEmpty(Token, nameof(Token));
        ArgumentNullException.ThrowIfNull(Tls, nameof(Tls));
        ArgumentException.ThrowIfNullOrEmpty(SessionDirectory, nameof(SessionDirectory));
        ArgumentException.ThrowIfNullOrEmpty(CacheDirectory, nameof(CacheDirectory));
        if (NumCpus < 0 || double.IsNaN(NumCpus))
        {
            throw new ArgumentOutOfRangeException(nameof(NumCpus), NumCpus, $"{nameof(NumCpus)} must be zero or more");
        }

        if (ObjectStoreMemory is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ObjectStoreMemory), ObjectStoreMemory, $"{nameof(ObjectStoreMemory)} must be positive (null for the default)");
        }

        ArgumentNullException.ThrowIfNull(Python, nameof(Python));
        ArgumentException.ThrowIfNullOrWhiteSpace(Python.Interpreter, nameof(Python));
        ArgumentNullException.ThrowIfNull(Containers, nameof(Containers));
        ArgumentException.ThrowIfNullOrWhiteSpace(Containers.Command, nameof(Containers));
        if (ContainerRuntimeOptions.RefusalOf(Containers.DefaultRunOptions) is { } refusal)
        {
            throw new ArgumentException($"{nameof(Containers)}.{nameof(ContainerRuntimeOptions.DefaultRunOptions)}: {refusal}", nameof(Containers));
        }

        if (Containers.AllowedRunOptions.Concat(Containers.DeniedRunOptions).FirstOrDefault(o => o is null || !o.StartsWith("--", StringComparison.Ordinal) || o.Contains('=', StringComparison.Ordinal)) is { } notAName)
        {
            throw new ArgumentException($"{nameof(Containers)}: container policy option '{notAName}' is not a long option name such as --volume", nameof(Containers));
        }

        if (CacheLimits.FirstOrDefault(l => !RuntimeEnvs.Caching.CacheLimits.Kinds.Contains(l.Key) || l.Value < 0) is { Key: not null } badLimit)
        {
            throw new ArgumentException($"{nameof(CacheLimits)}: '{badLimit.Key}' = {badLimit.Value} is not a limit: kinds are {string.Join(", ", RuntimeEnvs.Caching.CacheLimits.Kinds)}, sizes zero or more bytes", nameof(CacheLimits));
        }

        if (CacheCollectInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(CacheCollectInterval), CacheCollectInterval, $"{nameof(CacheCollectInterval)} must be positive");
        }

        if (MaxUnpackedBytes <= 0 || MaxUnpackedEntries <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxUnpackedEntries), $"{nameof(MaxUnpackedBytes)} and {nameof(MaxUnpackedEntries)} must be positive");
        }

        if (PrestartWorkers < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(PrestartWorkers), PrestartWorkers, $"{nameof(PrestartWorkers)} must be zero or more");
        }

        if (MaxStartingWorkers < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxStartingWorkers), MaxStartingWorkers, $"{nameof(MaxStartingWorkers)} must be at least 1");
        }

        if (MaxTasksInFlightPerWorker < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxTasksInFlightPerWorker), MaxTasksInFlightPerWorker, $"{nameof(MaxTasksInFlightPerWorker)} must be at least 1");
        }

        foreach (var (name, amount) in Resources)
        {
            if (string.IsNullOrWhiteSpace(name) || amount < 0 || double.IsNaN(amount))
            {
                throw new ArgumentException($"resource '{name}' = {amount}: names must be non-empty and amounts zero or more", nameof(Resources));
            }
        }

        if (!File.Exists(WorkerHost.HostAssemblyPath))
        {
            throw new ArgumentException($"worker host assembly '{WorkerHost.HostAssemblyPath}' does not exist", nameof(WorkerHost));
        }

        // Without it every worker dies at start ("libhostpolicy.so … not found") and every task is retried to its end.
        var runtimeConfig = Path.ChangeExtension(WorkerHost.HostAssemblyPath, ".runtimeconfig.json");
        if (!File.Exists(runtimeConfig))
        {
            throw new ArgumentException(
                $"the worker host '{WorkerHost.HostAssemblyPath}' has no '{Path.GetFileName(runtimeConfig)}' beside it, so no worker could start: " +
                "reference the Terrarium package (its build copies the worker host's runtimeconfig and deps files into the output) " +
                "or, for a project reference, src/Terrarium/Terrarium.csproj itself", nameof(WorkerHost));
        }
    }
}
