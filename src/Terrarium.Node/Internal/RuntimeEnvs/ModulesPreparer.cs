using System.Text.Json;
using NuGet.Frameworks;

namespace Terrarium.Node.Internal.RuntimeEnvs;

/// <summary><c>modules</c>: packages of assemblies added to the worker's probing, in order.</summary>
internal sealed class ModulesPreparer(FetchedPackages packages) : IFieldPreparer
{
    private static readonly NuGetFramework s_runtime = NuGetFramework.Parse("net" + Environment.Version.ToString(2));

    public string Name => "modules";

    public async Task<FieldSetup> PrepareAsync(JsonElement value, IWorkerLauncher? launcher, CancellationToken ct)
    {
        var directories = new List<string>();
        foreach (var module in Json.Array(value, Name).EnumerateArray())
        {
            directories.Add(AssemblyDirectoryOf(await packages.DirectoryAsync(Name, Json.String(module, Name), ct).ConfigureAwait(false)));
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
