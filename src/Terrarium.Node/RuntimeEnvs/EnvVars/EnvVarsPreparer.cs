using Terrarium.Protocol.RuntimeEnvs.Fields;

namespace Terrarium.Node.RuntimeEnvs.EnvVars;

/// <summary><c>env_vars</c>: variables set in the worker process, over those any other field sets.</summary>
internal sealed class EnvVarsPreparer() : FieldPreparer<IReadOnlyDictionary<string, string>>(EnvFields.EnvVars)
{
    protected override Task<FieldSetup> PrepareAsync(IReadOnlyDictionary<string, string> spec, IWorkerLauncher? launcher, CancellationToken ct) =>
        Task.FromResult(new FieldSetup { WinningEnvVars = spec });
}
