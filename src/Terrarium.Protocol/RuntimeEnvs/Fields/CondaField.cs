using System.Text.Json;

namespace Terrarium.Protocol.RuntimeEnvs.Fields;

/// <summary><c>conda</c>: the name or prefix of an existing environment, or an environment spec object.</summary>
internal sealed class CondaField() : RuntimeEnvField<CondaSpec>("conda")
{
    protected override CondaSpec? Get(RuntimeEnv env) => env.Conda;

    protected override RuntimeEnv With(RuntimeEnv env, CondaSpec? value) => env with { Conda = value };

    protected override CondaSpec Parse(string key, JsonElement value, string path)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            return new CondaSpec { Environment = value.GetString() };
        }

        RuntimeEnvJson.Expect(value, JsonValueKind.Object, path, "an environment name, a prefix path, or an environment spec object");
        return new CondaSpec { SpecJson = value.GetRawText() };
    }

    protected override void WriteValue(Utf8JsonWriter json, CondaSpec value)
    {
        if (value.SpecJson is { } spec)
        {
            using var document = JsonDocument.Parse(spec);
            document.RootElement.WriteTo(json);
        }
        else
        {
            json.WriteStringValue(value.Environment);
        }
    }

    public override void Validate(RuntimeEnv env, string paramName)
    {
        base.Validate(env, paramName);
        if (env.Conda is not null && env.Container is not null && env.Conda.Environment?.StartsWith('/') != true)
        {
            throw new ArgumentException(
                "runtime_env 'conda' inside a 'container' takes the absolute prefix path of an environment in the image (such as /opt/conda/envs/app); names and specs are not supported there yet",
                paramName);
        }
    }

    protected override void Check(CondaSpec value, string paramName)
    {
        if ((value.Environment is null) == (value.SpecJson is null))
        {
            throw new ArgumentException("runtime_env.conda needs either an environment (a name, a prefix path or an environment.yml) or a spec, not both", paramName);
        }

        if (value.Environment is { } environment && (string.IsNullOrWhiteSpace(environment) || environment.Any(c => c is '\n' or '\r' or '\0')))
        {
            throw new ArgumentException($"runtime_env.conda '{environment}' is not an environment name, prefix path or environment.yml", paramName);
        }

        // A prefix is a folder on each node (or in the image): a relative one would depend on the node's directory.
        if (value.Environment is { } prefix && prefix.Contains('/', StringComparison.Ordinal) && !prefix.StartsWith('/') &&
            !prefix.EndsWith(".yml", StringComparison.OrdinalIgnoreCase) && !prefix.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"runtime_env.conda '{prefix}': a prefix path must be absolute (an environment.yml may be relative)", paramName);
        }

        if (value.SpecJson is { } spec)
        {
            try
            {
                using var document = JsonDocument.Parse(spec);
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                {
                    throw new ArgumentException("runtime_env.conda's spec must be an object (name, channels, dependencies)", paramName);
                }
            }
            catch (JsonException e)
            {
                throw new ArgumentException($"runtime_env.conda's spec is not valid JSON: {e.Message}", paramName, e);
            }
        }
    }
}
