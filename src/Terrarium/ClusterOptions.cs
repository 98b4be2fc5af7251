using Microsoft.Extensions.Logging;

namespace Terrarium;

/// <summary>How <see cref="Cluster.InitAsync"/> starts or joins a cluster.</summary>
public sealed class ClusterOptions
{
    /// <summary>The environment variable read when <see cref="Address"/> is null.</summary>
    public const string AddressEnvironmentVariable = "TERRARIUM_ADDRESS";

    /// <summary>
    /// The head of a running cluster to join: <c>host:port</c> as <c>terrarium start --head</c> printed
    /// it (or <c>unix:/path</c>), or <c>"auto"</c> for the cluster this user started on this machine
    /// (its token too is found). Default: null, which reads <c>TERRARIUM_ADDRESS</c> and otherwise
    /// starts an embedded cluster inside this process.
    /// </summary>
    public string? Address { get; init; }

    /// <summary>
    /// The cluster token: when joining, the running cluster's (default: <c>TERRARIUM_TOKEN</c>); for an
    /// embedded cluster, the token other drivers must present to join it (default: a new random one).
    /// </summary>
    public string? Token { get; init; }

    /// <summary>
    /// The pin of the cluster's certificate authority, <c>sha256:…</c> as <c>terrarium start --head</c>
    /// printed it, when joining a cluster over TCP: the driver learns the CA from the head, checks it
    /// against the pin, and from then on sends the token only to servers whose certificate the CA
    /// signed. Default: null, which reads <c>TERRARIUM_CA_HASH</c>, and otherwise trusts what
    /// <c>terrarium start</c> recorded on this machine (the local head's CA).
    /// </summary>
    public string? CaHash { get; init; }

    /// <summary>
    /// Join a cluster started with <c>terrarium start --insecure</c>: plain TCP, the token and every
    /// value in clear. Default: false (<c>TERRARIUM_INSECURE=1</c> sets it).
    /// </summary>
    public bool Insecure { get; init; }

    /// <summary>
    /// The job's settings, such as its default runtime env. Default: none — but in a driver that a
    /// node started for <c>terrarium job submit</c>, the submitted job's runtime env.
    /// </summary>
    public JobConfig? Job { get; init; }

    /// <summary>CPUs the embedded node offers. Default: null, the machine's processor count.</summary>
    public int? NumCpus { get; init; }

    /// <summary>Custom resources the embedded node offers (name → amount). Default: none.</summary>
    public IReadOnlyDictionary<string, double>? Resources { get; init; }

    /// <summary>How long an idle task worker of the embedded node lives. Default: null, 30 seconds.</summary>
    public TimeSpan? IdleWorkerTimeout { get; init; }

    /// <summary>
    /// How long the embedded node answers work in an env whose setup failed with that failure before
    /// it tries the setup again (a broken env is not rebuilt in a tight loop). Default: null, 30 seconds.
    /// </summary>
    public TimeSpan? FailedSetupRetryDelay { get; init; }

    /// <summary>
    /// Where the embedded node caches packages and environments across runs. Default: null, which is
    /// <c>TERRARIUM_CACHE_DIR</c> or else <c>terrarium</c> under the user's cache directory.
    /// </summary>
    public string? CacheDirectory { get; init; }

    /// <summary>
    /// Bytes each kind of the embedded node's env cache (<c>working_dir</c>, <c>pip</c>, <c>conda</c>,
    /// <c>nuget</c>, <c>container</c>: images it pulled) may take before unused envs' folders are deleted, least recently used first.
    /// Default: null, which is <c>TERRARIUM_CACHE_LIMIT</c> (<c>working_dir=10GB,nuget=20GB</c>) or else 10 GB each.
    /// </summary>
    public IReadOnlyDictionary<string, long>? CacheLimits { get; init; }

    /// <summary>
    /// The NuGet.Config the embedded node restores <c>nuget</c> envs with (sources, credentials).
    /// Default: null, NuGet's usual lookup (user and machine configs).
    /// </summary>
    public string? NuGetConfigFile { get; init; }

    /// <summary>
    /// The tmpfs the embedded node keeps large values on, as files that workers and drivers of this
    /// machine map instead of copying. Default: <c>/dev/shm</c>. Null keeps them in the node's
    /// memory; so does a folder that is not a tmpfs or is too small, or a machine without
    /// <c>/dev/shm</c> (the node says why in its status). A folder given must exist.
    /// </summary>
    public string? ObjectStoreRoot { get; init; } = DefaultObjectStoreRoot;

    private const string DefaultObjectStoreRoot = Node.NodeOptions.DefaultObjectStoreRoot;

    /// <summary>
    /// Bytes of values the embedded node's shared-memory store holds before the least recently used
    /// spill to disk (its cache folder), where they stay readable. Default: null, 30% of the memory
    /// this process may use.
    /// </summary>
    public long? ObjectStoreMemory { get; init; }

    /// <summary>
    /// Whether the job's code — this program's folder (<see cref="AppContext.BaseDirectory"/>) — is
    /// packaged and uploaded to the head, for nodes to download, instead of nodes reading the folder
    /// where it is. Default: null, which ships it when some node of the cluster is not on this
    /// machine's loopback (it cannot share this machine's filesystem); the upload is skipped when the
    /// head has that content already.
    /// </summary>
    public bool? ShipJobCode { get; init; }

    /// <summary>The largest package (working dir or module) this driver uploads. Default: 1 GiB.</summary>
    public long MaxPackageBytes { get; init; } = 1L << 30;

    /// <summary>
    /// The most bytes of task arguments this driver keeps alive only so that large results of tasks
    /// with retries left can be made again if the node holding them is lost (their lineage). Past it
    /// the oldest lineage is dropped: those results can no longer be made again, and their arguments
    /// are released once nothing else holds them. Default: 1 GiB; 0 keeps none (results of tasks
    /// without arguments can still be made again).
    /// </summary>
    public long MaxLineageBytes { get; init; } = 1L << 30;

    /// <summary>
    /// Generic workers the embedded node keeps started ahead of need, so that a new job or env does
    /// not wait for a process to start. Default: null, which is 1; 0 turns this off.
    /// </summary>
    public int? PrestartWorkers { get; init; }

    /// <summary>
    /// How the embedded node runs workers whose env has a <c>container</c>: the command (podman), its
    /// global options and run options added to every container. Default: podman as installed.
    /// </summary>
    public Node.ContainerRuntimeOptions? Containers { get; init; }

    /// <summary>How the embedded node builds <c>pip</c> and <c>conda</c> envs. Default: <c>python3</c>, and the conda tool on PATH.</summary>
    public Node.PythonOptions? Python { get; init; }

    /// <summary>Print workers' stdout and stderr in this process, prefixed with their pid. Default: true.</summary>
    public bool LogToDriver { get; init; } = true;

    /// <summary>
    /// Show the setup of this job's envs live on standard error — a line per step and node, with a
    /// spinner and its time — while setups run. Default: null, shown when standard error is an
    /// interactive terminal (never when it is redirected). Each step is also logged to
    /// <see cref="LoggerFactory"/> at Information.
    /// </summary>
    public bool? ShowSetupProgress { get; init; }

    /// <summary>Where Terrarium's own logs go. Default: warnings and errors to the console.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>
    /// The clock this connection waits on: <see cref="Cluster.WaitAsync{T}"/>'s timeout, how often it
    /// refreshes its list of nodes, how long it tries to resume a broken connection. Timeouts of
    /// network calls stay on real time. Default: the system's. A test can give a fake one
    /// (<c>FakeTimeProvider</c>) to move time itself.
    /// </summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// Where the embedded cluster keeps its sockets, worker logs and scratch files, one session
    /// folder per cluster. It must be this user's private folder (owned by this user, mode 0700);
    /// another is refused. Default: null, which is <c>$XDG_RUNTIME_DIR/terrarium</c> or else
    /// <c>$TMPDIR/terrarium-&lt;uid&gt;</c>.
    /// </summary>
    public string? RuntimeDirectory { get; init; }

    internal string ResolveCacheDirectory() => CacheDirectory ?? DefaultCacheDirectory();

    /// <summary><c>TERRARIUM_CACHE_DIR</c>, else <c>terrarium</c> under the user's cache directory.</summary>
    internal static string DefaultCacheDirectory() => Protocol.LocalFiles.UserFolders.Cache();

    internal void Validate()
    {
        if (TimeProvider is null)
        {
            throw new ArgumentException($"{nameof(TimeProvider)} must not be null (leave it unset for the system's clock)", nameof(TimeProvider));
        }

        if (Token is not null && Token.Length < 16)
        {
            throw new ArgumentException($"{nameof(Token)} must be at least 16 characters", nameof(Token));
        }

        if (CaHash is not null)
        {
            try
            {
                Protocol.Security.CaHash.Parse(CaHash);
            }
            catch (FormatException e)
            {
                throw new ArgumentException($"{nameof(CaHash)}: {e.Message}", nameof(CaHash), e);
            }

            if (Insecure)
            {
                throw new ArgumentException($"{nameof(CaHash)} and {nameof(Insecure)} both set: a cluster runs either with TLS or without", nameof(Insecure));
            }
        }

        if (NumCpus is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(NumCpus), NumCpus, $"{nameof(NumCpus)} must be zero or more");
        }

        if (PrestartWorkers is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(PrestartWorkers), PrestartWorkers, $"{nameof(PrestartWorkers)} must be zero or more");
        }

        if (IdleWorkerTimeout is { } idle && idle <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(IdleWorkerTimeout), idle, $"{nameof(IdleWorkerTimeout)} must be positive");
        }

        if (FailedSetupRetryDelay is { } retry && retry < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(FailedSetupRetryDelay), retry, $"{nameof(FailedSetupRetryDelay)} must be zero or more");
        }

        if (CacheLimits?.FirstOrDefault(l => !Node.RuntimeEnvs.Caching.CacheLimits.Kinds.Contains(l.Key) || l.Value < 0) is { Key: not null } limit)
        {
            throw new ArgumentException(
                $"{nameof(CacheLimits)}: '{limit.Key}' = {limit.Value} is not a limit: kinds are {string.Join(", ", Node.RuntimeEnvs.Caching.CacheLimits.Kinds)}, sizes zero or more bytes",
                nameof(CacheLimits));
        }

        if (MaxPackageBytes <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxPackageBytes), MaxPackageBytes, $"{nameof(MaxPackageBytes)} must be positive");
        }

        if (MaxLineageBytes < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxLineageBytes), MaxLineageBytes, $"{nameof(MaxLineageBytes)} must be zero or more");
        }

        if (ObjectStoreMemory is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ObjectStoreMemory), ObjectStoreMemory, $"{nameof(ObjectStoreMemory)} must be positive (null for the default)");
        }

        // The default may be missing (no /dev/shm): the node then keeps values in its memory. A folder given must exist.
        if (ObjectStoreRoot is not null and not DefaultObjectStoreRoot && !Directory.Exists(ObjectStoreRoot))
        {
            throw new ArgumentException($"{nameof(ObjectStoreRoot)} '{ObjectStoreRoot}' is not a folder (give a tmpfs such as /dev/shm, or null)", nameof(ObjectStoreRoot));
        }

        if (NuGetConfigFile is not null && !File.Exists(NuGetConfigFile))
        {
            throw new ArgumentException($"{nameof(NuGetConfigFile)} '{NuGetConfigFile}' does not exist (resolved to {Path.GetFullPath(NuGetConfigFile)})", nameof(NuGetConfigFile));
        }

        Placement.ResourceValidation.Validate(Resources, nameof(Resources));
        if (Job?.RuntimeEnv is { } env)
        {
            Protocol.RuntimeEnvs.RuntimeEnvValidator.Validate(env, $"{nameof(Job)}.{nameof(JobConfig.RuntimeEnv)}");
        }
    }
}
