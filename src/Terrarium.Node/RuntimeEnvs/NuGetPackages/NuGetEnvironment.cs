using Terrarium.Protocol;

namespace Terrarium.Node.RuntimeEnvs.NuGetPackages;

/// <summary>The outcome of a restore: the packages NuGet chose and the files the worker loads.</summary>
internal sealed record NuGetEnvironment(
    IReadOnlyList<ResolvedNuGetPackage> Packages,
    IReadOnlyDictionary<string, string> Assemblies,
    IReadOnlyDictionary<string, string> NativeLibraries);
