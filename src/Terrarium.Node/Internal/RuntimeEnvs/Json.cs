using System.Text.Json;

namespace Terrarium.Node.Internal.RuntimeEnvs;

/// <summary>Reads a field's JSON value, failing the setup (not the node) when a client sent the wrong shape.</summary>
internal static class Json
{
    public static string String(JsonElement value, string field) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Wrong(field, "a string", value);

    public static JsonElement Array(JsonElement value, string field) =>
        value.ValueKind == JsonValueKind.Array ? value : throw Wrong(field, "a list", value);

    public static JsonElement Object(JsonElement value, string field) =>
        value.ValueKind == JsonValueKind.Object ? value : throw Wrong(field, "an object", value);

    public static JsonElement Property(JsonElement value, string name, string field) =>
        Object(value, field).TryGetProperty(name, out var property)
            ? property
            : throw new RuntimeEnvSetupFailure(field, $"runtime_env.{field} has no '{name}'", "");

    private static RuntimeEnvSetupFailure Wrong(string field, string expected, JsonElement value) =>
        new(field.Split('.')[0], $"runtime_env.{field} must be {expected}, got {value.ValueKind.ToString().ToLowerInvariant()}", "");
}
