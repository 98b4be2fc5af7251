using System.Text.Json;

namespace Terrarium.Protocol.RuntimeEnvs.Fields;

/// <summary><c>config</c>: limits and timing of the setup; the default config is "not set".</summary>
internal sealed class ConfigField() : RuntimeEnvField<RuntimeEnvConfig>("config")
{
    private static readonly string[] s_keys = ["setup_timeout_seconds", "eager_install"];

    protected override RuntimeEnvConfig? Get(RuntimeEnv env) => env.Config;

    protected override RuntimeEnv With(RuntimeEnv env, RuntimeEnvConfig? value) => env with { Config = value };

    protected override RuntimeEnvConfig Parse(string key, JsonElement value, string path)
    {
        RuntimeEnvJson.Expect(value, JsonValueKind.Object, path);
        var config = new RuntimeEnvConfig();
        foreach (var field in value.EnumerateObject().Where(f => !RuntimeEnvJson.IsNullOf(f, s_keys)))
        {
            config = field.Name switch
            {
                "setup_timeout_seconds" => config with
                {
                    SetupTimeoutSeconds = field.Value.ValueKind == JsonValueKind.Number && field.Value.TryGetInt32(out var seconds)
                        ? RuntimeEnvConfig.CheckTimeout(seconds, $"{path}.setup_timeout_seconds")
                        : throw new ArgumentException($"{path}.setup_timeout_seconds must be a whole number, got {RuntimeEnvJson.Describe(field.Value)}"),
                },
                "eager_install" => config with
                {
                    EagerInstall = field.Value.ValueKind is JsonValueKind.True or JsonValueKind.False
                        ? field.Value.GetBoolean()
                        : throw new ArgumentException($"{path}.eager_install must be true or false, got {RuntimeEnvJson.Describe(field.Value)}"),
                },
                _ => throw RuntimeEnvJson.UnknownKey(field.Name, path, s_keys),
            };
        }

        return config;
    }

    protected override void WriteValue(Utf8JsonWriter json, RuntimeEnvConfig value)
    {
        json.WriteStartObject();
        json.WriteBoolean("eager_install", value.EagerInstall);
        json.WriteNumber("setup_timeout_seconds", value.SetupTimeoutSeconds);
        json.WriteEndObject();
    }

    protected override bool MeansUnset(RuntimeEnvConfig value) => value == new RuntimeEnvConfig();

    /// <summary>A more specific env's config replaces the base's, even when it is the default.</summary>
    public override RuntimeEnv Merge(RuntimeEnv merged, RuntimeEnv baseEnv, RuntimeEnv specific) => merged with { Config = specific.Config ?? baseEnv.Config };

    protected override void Check(RuntimeEnvConfig value, string paramName)
    {
        try
        {
            RuntimeEnvConfig.CheckTimeout(value.SetupTimeoutSeconds, "runtime_env.config.setup_timeout_seconds");
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException(e.Message, paramName, e);
        }
    }
}
