namespace Terrarium.Node.RuntimeEnvs.NuGetPackages;

/// <summary>What resolving in process gave: the env's packages, or why a real restore must decide.</summary>
internal sealed record FolderResolution(NuGetEnvironment? Environment, string? NeedsRestoreBecause);
