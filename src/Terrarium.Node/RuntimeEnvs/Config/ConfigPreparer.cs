using Terrarium.Protocol.RuntimeEnvs.Fields;

namespace Terrarium.Node.RuntimeEnvs.Config;

/// <summary>
/// <c>config</c>: how the setup runs, not what the worker gets. <see cref="EnvBuildCache"/> reads
/// its timeout. <c>eager_install</c> is the driver's: it asks every node to build the job's env
/// as the job starts (<c>NodeRouter.PrepareEverywhere</c>), so nothing here reads it.
/// </summary>
internal sealed class ConfigPreparer() : FieldPreparer<RuntimeEnvConfig>(EnvFields.Config)
{
    protected override Task<FieldSetup> PrepareAsync(RuntimeEnvConfig spec, IWorkerLauncher? launcher, CancellationToken ct) => Task.FromResult(FieldSetup.Nothing);
}
