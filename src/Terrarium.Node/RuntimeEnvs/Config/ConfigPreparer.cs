using Terrarium.Protocol.RuntimeEnvs.Fields;

namespace Terrarium.Node.RuntimeEnvs.Config;

/// <summary>
/// <c>config</c>: how the setup runs, not what the worker gets. <see cref="EnvBuildCache"/> reads
/// its timeout. <c>eager_install</c> is parsed and validated in the model (<c>RuntimeEnvConfig</c>)
/// and used by nothing yet: preparing a job's env on every node as the job starts is the env
/// lifecycle's work (docs/runtime-env.md says so).
/// </summary>
internal sealed class ConfigPreparer() : FieldPreparer<RuntimeEnvConfig>(EnvFields.Config)
{
    protected override Task<FieldSetup> PrepareAsync(RuntimeEnvConfig spec, IWorkerLauncher? launcher, CancellationToken ct) => Task.FromResult(FieldSetup.Nothing);
}
