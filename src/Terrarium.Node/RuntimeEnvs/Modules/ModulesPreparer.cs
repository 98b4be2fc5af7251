using NuGet.Frameworks;
using Terrarium.Protocol.RuntimeEnvs.Fields;

namespace Terrarium.Node.RuntimeEnvs.Modules;

/// <summary><c>modules</c>: packages of assemblies added to the worker's probing, in order.</summary>
internal sealed class ModulesPreparer(FetchedPackages packages) : FieldPreparer<IReadOnlyList<string>>(EnvFields.Modules)
{
    private static readonly NuGetFramework s_runtime = NuGetFramework.Parse("net" + Environment.Version.ToString(2));

    protected override async Task<FieldSetup> PrepareAsync(IReadOnlyList<string> spec, IWorkerLauncher? launcher, CancellationToken ct)
    {
        var directories = new List<string>();
        foreach (var module in spec)
        {
            directories.Add(AssemblyDirectoryOf(await packages.DirectoryAsync(Name, module, ct).ConfigureAwait(false)));
        }

        return new FieldSetup { AssemblyDirectories = directories };
    }

    /// <summary>A module's assemblies: a .nupkg's lib folder nearest this runtime, else the module's root.</summary>
    private static string AssemblyDirectoryOf(string unpacked)
    {
        var lib = Path.Combine(unpacked, "lib");
        if (Directory.GetFiles(unpacked, "*.nuspec").Length == 0 || !Directory.Exists(lib))
        {
            return unpacked;
        }

        var frameworks = Directory.GetDirectories(lib).ToDictionary(d => NuGetFramework.ParseFolder(Path.GetFileName(d)), d => d);
        var nearest = new FrameworkReducer().GetNearest(s_runtime, frameworks.Keys);
        return nearest is null ? unpacked : frameworks[nearest];
    }
}
