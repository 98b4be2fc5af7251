namespace Terrarium.Node.Internal;

/// <summary>A runtime environment materialised on this node: what a worker process needs to run in it.</summary>
internal sealed class PreparedEnv
{
    public static PreparedEnv None { get; } = new() { Hash = "", CanonicalJson = "" };

    /// <summary>The env's identity; empty for "no runtime environment".</summary>
    public required string Hash { get; init; }

    public required string CanonicalJson { get; init; }

    /// <summary>Set in the worker process only.</summary>
    public IReadOnlyDictionary<string, string> EnvVars { get; init; } = new Dictionary<string, string>();

    /// <summary>The worker's current directory; null for the node's worker directory.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Where the worker finds the env's assemblies, ahead of the job's code: modules, then the working dir.</summary>
    public IReadOnlyList<string> AssemblyDirectories { get; init; } = [];

    /// <summary>The env's restored NuGet packages, if it has a <c>nuget</c> field.</summary>
    public NuGetEnvironment? NuGet { get; init; }
}
