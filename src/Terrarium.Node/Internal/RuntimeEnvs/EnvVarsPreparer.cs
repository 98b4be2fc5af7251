using System.Text.Json;

namespace Terrarium.Node.Internal.RuntimeEnvs;

/// <summary><c>env_vars</c>: variables set in the worker process.</summary>
internal sealed class EnvVarsPreparer : IFieldPreparer
{
    public string Name => "env_vars";

    public Task<FieldSetup> PrepareAsync(JsonElement value, IWorkerLauncher? launcher, CancellationToken ct)
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var variable in Json.Object(value, Name).EnumerateObject())
        {
            variables[variable.Name] = Json.String(variable.Value, $"{Name}.{variable.Name}");
        }

        return Task.FromResult(new FieldSetup { EnvVars = variables });
    }
}
