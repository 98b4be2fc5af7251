using System.Text.Json;

namespace Terrarium.Internal.RuntimeEnvFields;

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

    protected override void Check(CondaSpec value, string paramName) => throw Unsupported.Field(Name, paramName);
}
