using Terrarium.Protocol.RuntimeEnvs.Fields;

namespace Terrarium.Node.RuntimeEnvs.WorkingDir;

/// <summary><c>working_dir</c>: a package unpacked as the worker's current directory, whose assemblies are probed.</summary>
internal sealed class WorkingDirPreparer(FetchedPackages packages) : FieldPreparer<string>(EnvFields.WorkingDir)
{
    protected override async Task<FieldSetup> PrepareAsync(string spec, IWorkerLauncher? launcher, CancellationToken ct)
    {
        var directory = await packages.DirectoryAsync(Name, spec, ct).ConfigureAwait(false);
        return new FieldSetup { WorkingDirectory = directory, AssemblyDirectories = [directory] };
    }
}
