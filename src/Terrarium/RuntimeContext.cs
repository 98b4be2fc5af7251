namespace Terrarium;

/// <summary>Where the current code runs: job, node, worker, task, and the effective runtime env.</summary>
public sealed class RuntimeContext
{
    private static readonly AsyncLocal<string?> s_currentWork = new();

    internal RuntimeContext(string jobId, string nodeId, string? workerId, string? actorId, RuntimeEnv? runtimeEnv)
    {
        JobId = jobId;
        NodeId = nodeId;
        WorkerId = workerId;
        ActorId = actorId;
        RuntimeEnv = runtimeEnv;
    }

    /// <summary>
    /// The context of this process: inside a task or actor, the worker's; in a driver, the current
    /// cluster's job.
    /// </summary>
    /// <exception cref="InvalidOperationException">Neither a worker nor a driver with a cluster.</exception>
    public static RuntimeContext Current => WorkerContext ?? Cluster.Current.DriverContext;

    /// <summary>The job's id.</summary>
    public string JobId { get; }

    /// <summary>The node this process is attached to.</summary>
    public string NodeId { get; }

    /// <summary>The worker's id; null in a driver.</summary>
    public string? WorkerId { get; }

    /// <summary>The actor this worker hosts; null for a task worker or a driver.</summary>
    public string? ActorId { get; }

    /// <summary>The task or actor call running now on this async flow; null outside one.</summary>
    public string? TaskId => s_currentWork.Value;

    /// <summary>Whether this code runs in a worker process.</summary>
    public bool IsWorker => WorkerId is not null;

    /// <summary>The effective runtime env (in a driver: the job's default). Null for none.</summary>
    public RuntimeEnv? RuntimeEnv { get; }

    /// <summary>The NuGet packages restored for this worker's env (transitive ones included); empty without a <c>nuget</c> field.</summary>
    public IReadOnlyList<NuGetPackageInfo> NuGetPackages { get; init; } = [];

    /// <summary>
    /// The Python interpreter of this worker's <c>pip</c> venv or <c>conda</c> environment, which is
    /// also first on its PATH as <c>python</c>. Null without one (and in a driver).
    /// </summary>
    public string? PythonExecutable => IsWorker ? Environment.GetEnvironmentVariable("TERRARIUM_PYTHON") : null;

    internal static RuntimeContext? WorkerContext { get; set; }

    /// <summary>The task or actor call running in this async flow, if any.</summary>
    internal static string? CurrentWorkId => s_currentWork.Value;

    internal static void SetCurrentWork(string? workId) => s_currentWork.Value = workId;
}
