using System.Text.Json;

namespace Terrarium.Protocol.RuntimeEnvs.Fields;

/// <summary><c>working_dir</c>: a local directory or zip, or the URI of a zip.</summary>
internal sealed class WorkingDirField() : RuntimeEnvField<string>("working_dir")
{
    protected override string? Get(RuntimeEnv env) => env.WorkingDir;

    protected override RuntimeEnv With(RuntimeEnv env, string? value) => env with { WorkingDir = value };

    protected override string Parse(string key, JsonElement value, string path) => RuntimeEnvJson.String(value, path);

    protected override void WriteValue(Utf8JsonWriter json, string value) => json.WriteStringValue(value);

    protected override void Check(string value, string paramName)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new ArgumentException("runtime_env.working_dir must not be blank", paramName);
        }

        UriSchemes.Check(Name, value, paramName);
    }
}
