using System.Text.Json;
using Terrarium.Protocol.RuntimeEnvs.Fields;

namespace Terrarium.Protocol.RuntimeEnvs;

/// <summary>Parses the JSON form of a runtime env, naming the key or value that is wrong; each field reads its own value.</summary>
internal static class RuntimeEnvReader
{
    public static RuntimeEnv Read(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument document;
        try
        {
            // A key given twice is an error at any level, not "the last one wins": it is almost always a mistake.
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"runtime_env is not valid JSON: {e.Message}", nameof(json), e);
        }

        using (document)
        {
            return Read(document.RootElement);
        }
    }

    public static RuntimeEnv Read(JsonElement root)
    {
        RuntimeEnvJson.Expect(root, JsonValueKind.Object, "runtime_env");
        var env = new RuntimeEnv();
        foreach (var property in root.EnumerateObject())
        {
            var field = EnvFields.ByKey(property.Name)
                ?? throw RuntimeEnvJson.UnknownKey(property.Name, "runtime_env", EnvFields.Keys);
            // As in Ray: null means "not set".
            if (property.Value.ValueKind != JsonValueKind.Null)
            {
                env = field.Read(env, property.Name, property.Value);
            }
        }

        return env;
    }
}
