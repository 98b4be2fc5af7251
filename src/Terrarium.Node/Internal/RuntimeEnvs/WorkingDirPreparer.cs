using System.Text.Json;

namespace Terrarium.Node.Internal.RuntimeEnvs;

/// <summary><c>working_dir</c>: a package unpacked as the worker's current directory, whose assemblies are probed.</summary>
internal sealed class WorkingDirPreparer(FetchedPackages packages) : IFieldPreparer
{
    public string Name => "working_dir";

    public async Task<FieldSetup> PrepareAsync(JsonElement value, IWorkerLauncher? launcher, CancellationToken ct)
    {
        var directory = await packages.DirectoryAsync(Name, Json.String(value, Name), ct).ConfigureAwait(false);
        return new FieldSetup { WorkingDirectory = directory, AssemblyDirectories = [directory] };
    }
}
