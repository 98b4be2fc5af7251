using Terrarium.Protocol;

namespace Terrarium.Node.RuntimeEnvs;

/// <summary>A runtime environment materialised on this node: what a worker process needs to run in it.</summary>
internal sealed class PreparedEnv
{
    public static PreparedEnv None { get; } = new() { Hash = "", CanonicalJson = "" };

    /// <summary>The env's identity; empty for "no runtime environment".</summary>
    public required string Hash { get; init; }

    public required string CanonicalJson { get; init; }

    /// <summary>Set in the worker process only.</summary>
    public IReadOnlyDictionary<string, string> EnvVars { get; init; } = new Dictionary<string, string>();

    /// <summary>Put ahead of the worker's <c>PATH</c> when its process starts.</summary>
    public IReadOnlyList<string> PathEntries { get; init; } = [];

    /// <summary>How the worker's process starts when not directly (in a container); null for directly.</summary>
    public IWorkerLauncher? Launcher { get; init; }

    /// <summary>The worker's current directory; null for the node's worker directory.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Where the worker finds the env's assemblies, ahead of the job's code: modules, then the working dir.</summary>
    public IReadOnlyList<string> AssemblyDirectories { get; init; } = [];

    /// <summary>Assemblies by simple name, loaded ahead of anything else of that name.</summary>
    public IReadOnlyDictionary<string, string> PreloadedAssemblies { get; init; } = new Dictionary<string, string>();

    /// <summary>Native libraries by name, for <c>DllImport</c>.</summary>
    public IReadOnlyDictionary<string, string> NativeLibraries { get; init; } = new Dictionary<string, string>();

    /// <summary>The packages the env's fields resolved, which the worker reports in its <c>RuntimeContext</c>.</summary>
    public IReadOnlyList<ResolvedNuGetPackage> ResolvedNuGetPackages { get; init; } = [];

    /// <summary>Folders of the node's cache the worker reads besides its working and assembly directories and <c>PATH</c> entries.</summary>
    public IReadOnlyList<string> ReadFolders { get; init; } = [];

    /// <summary>Folders of the node's cache the env depends on without its workers reading them (a pulled image's record).</summary>
    public IReadOnlyList<string> CachedFolders { get; init; } = [];

    /// <summary>
    /// Whether a worker for this env must be a new process rather than a pre-started one that takes
    /// the variables after it started: the .NET runtime (<c>DOTNET_*</c>, <c>COMPlus_*</c>,
    /// <c>CORECLR_*</c>) and the dynamic loader and C library (<c>LD_*</c>, <c>MALLOC_*</c>,
    /// <c>GLIBC_*</c>) read theirs once, at start; so is <c>PATH</c> here, and a container is a
    /// process of its own.
    /// </summary>
    public bool NeedsFreshProcess => Launcher is not null || PathEntries.Count > 0 || EnvVars.Keys.Any(IsReadAtStart);

    /// <summary>
    /// Longer values are not passed when the process starts (Linux refuses to start a process with
    /// one environment string over 128 KiB); the worker sets them itself before any task runs.
    /// </summary>
    public const int MaxValuePassedAtStart = 32 * 1024;

    private static readonly string[] s_startPrefixes = ["DOTNET_", "COMPlus_", "CORECLR_", "LD_", "MALLOC_", "GLIBC_"];

    public static bool IsReadAtStart(string name) =>
        s_startPrefixes.Any(p => name.StartsWith(p, StringComparison.OrdinalIgnoreCase));
}
