namespace Terrarium;

/// <summary>A NuGet package restored for a runtime env: what NuGet chose, and the files the worker uses.</summary>
/// <param name="Id">The package id.</param>
/// <param name="Version">The version NuGet resolved (normalized).</param>
/// <param name="Assets">Runtime and native assets used, relative to the package root.</param>
public sealed record NuGetPackageInfo(string Id, string Version, IReadOnlyList<string> Assets);
