using System.Text.Json;

namespace Terrarium.Protocol.RuntimeEnvs.Fields;

/// <summary><c>env_vars</c>: variables of the worker process; a more specific env's win key by key.</summary>
internal sealed class EnvVarsField() : RuntimeEnvField<IReadOnlyDictionary<string, string>>("env_vars")
{
    private const string ReservedPrefix = "TERRARIUM_";

    protected override IReadOnlyDictionary<string, string>? Get(RuntimeEnv env) => env.EnvVars;

    protected override RuntimeEnv With(RuntimeEnv env, IReadOnlyDictionary<string, string>? value) => env with { EnvVars = value };

    protected override IReadOnlyDictionary<string, string>? Parse(string key, JsonElement value, string path)
    {
        RuntimeEnvJson.Expect(value, JsonValueKind.Object, path, "an object of string values");
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var field in value.EnumerateObject())
        {
            result[field.Name] = field.Value.ValueKind == JsonValueKind.String
                ? field.Value.GetString()!
                : throw new ArgumentException($"{path}.{field.Name} must be a string, got {RuntimeEnvJson.Describe(field.Value)}");
        }

        return result.Count > 0 ? result : null;
    }

    /// <summary>Sorted by name, as <see cref="RuntimeEnv.EnvVars"/> keeps them.</summary>
    protected override void WriteValue(Utf8JsonWriter json, IReadOnlyDictionary<string, string> value)
    {
        json.WriteStartObject();
        foreach (var (name, variable) in value)
        {
            json.WriteString(name, variable);
        }

        json.WriteEndObject();
    }

    protected override bool MeansUnset(IReadOnlyDictionary<string, string> value) => value.Count == 0;

    public override RuntimeEnv Merge(RuntimeEnv merged, RuntimeEnv baseEnv, RuntimeEnv specific)
    {
        if (baseEnv.EnvVars is null && specific.EnvVars is null)
        {
            return merged with { EnvVars = null };
        }

        var variables = new Dictionary<string, string>(baseEnv.EnvVars ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        foreach (var (name, value) in specific.EnvVars ?? new Dictionary<string, string>())
        {
            variables[name] = value;
        }

        return merged with { EnvVars = variables };
    }

    protected override void Check(IReadOnlyDictionary<string, string> value, string paramName)
    {
        foreach (var (name, variable) in value)
        {
            if (name.Length == 0 || name.Contains('=', StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal))
            {
                throw new ArgumentException($"runtime_env.env_vars has an invalid variable name '{name}': names must be non-empty and contain no '=' or NUL", paramName);
            }

            if (name.StartsWith(ReservedPrefix, StringComparison.OrdinalIgnoreCase))
            {
                throw new ArgumentException($"runtime_env.env_vars.{name}: names starting with {ReservedPrefix} are reserved for Terrarium", paramName);
            }

            if (variable is null || variable.Contains('\0', StringComparison.Ordinal))
            {
                throw new ArgumentException($"runtime_env.env_vars.{name} must be a string without NUL characters", paramName);
            }
        }
    }
}
