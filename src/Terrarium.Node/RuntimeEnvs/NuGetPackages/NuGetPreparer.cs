using Terrarium.Protocol.RuntimeEnvs.Fields;

namespace Terrarium.Node.RuntimeEnvs.NuGetPackages;

/// <summary>
/// <c>nuget</c>: packages restored with NuGet's own restore, loaded ahead of the job's own copies. A
/// version other than the one asked for is a warning in the setup log (which the driver's logger
/// shows), or with <c>exact</c> a setup failure.
/// </summary>
internal sealed class NuGetPreparer(FetchedPackages packages, NuGetRestorer restorer) : FieldPreparer<NuGetSpec>(EnvFields.NuGet)
{
    protected override async Task<FieldSetup> PrepareAsync(NuGetSpec spec, IWorkerLauncher? launcher, CancellationToken ct)
    {
        var sources = new List<string>();
        foreach (var source in spec.Sources)
        {
            // Local folder feeds arrive as pkg:// packages: unpack them first.
            var shipped = source.StartsWith("pkg://", StringComparison.Ordinal);
            var resolved = shipped ? await packages.DirectoryAsync(Name, source, ct).ConfigureAwait(false) : source;
            NuGetRestorer.CheckSource(resolved, shipped);
            sources.Add(resolved);
        }

        var restored = await restorer.RestoreAsync(spec.Packages, sources, ct).ConfigureAwait(false);
        var substitutions = VersionSubstitutions.Find(spec.Packages, restored.Packages).ToList();
        if (spec.Exact && substitutions.Count > 0)
        {
            throw new RuntimeEnvSetupFailure(Name, $"the env asks for exact versions (nuget.exact), but {string.Join("; and ", substitutions)}", "");
        }

        foreach (var substitution in substitutions)
        {
            SetupLog.Current?.Warn(substitution);
        }

        return new FieldSetup
        {
            PreloadedAssemblies = restored.Assemblies,
            NativeLibraries = restored.NativeLibraries,
            ResolvedNuGetPackages = restored.Packages,
            ReadFolders = [restorer.PackagesFolder],
        };
    }
}
