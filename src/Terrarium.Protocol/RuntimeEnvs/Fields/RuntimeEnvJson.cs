using System.Text.Json;

namespace Terrarium.Protocol.RuntimeEnvs.Fields;

/// <summary>Reading and writing field values, with errors that name the path and what was found.</summary>
internal static class RuntimeEnvJson
{
    /// <summary>A key whose value is null: "not set", as in Ray.</summary>
    public static bool IsNullOf(JsonProperty field, params string[] known) =>
        field.Value.ValueKind == JsonValueKind.Null && known.Contains(field.Name);

    public static string String(JsonElement value, string path)
    {
        Expect(value, JsonValueKind.String, path);
        return value.GetString()!;
    }

    public static string[] Strings(JsonElement value, string path)
    {
        Expect(value, JsonValueKind.Array, path, "a list of strings");
        return value.EnumerateArray()
            .Select((item, i) => item.ValueKind == JsonValueKind.String
                ? item.GetString()!
                : throw new ArgumentException($"{path}[{i}] must be a string, got {Describe(item)}"))
            .ToArray();
    }

    /// <summary>An empty list is the same as no list: <c>{"excludes": []}</c> and <c>{}</c> are one env.</summary>
    public static string[]? StringsOrUnset(JsonElement value, string path) => Strings(value, path) is { Length: > 0 } values ? values : null;

    public static void WriteStrings(Utf8JsonWriter json, IEnumerable<string> values)
    {
        json.WriteStartArray();
        foreach (var value in values)
        {
            json.WriteStringValue(value);
        }

        json.WriteEndArray();
    }

    public static void WriteStrings(Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WritePropertyName(name);
        WriteStrings(json, values);
    }

    public static void Expect(JsonElement value, JsonValueKind kind, string path, string? what = null)
    {
        if (value.ValueKind != kind)
        {
            throw new ArgumentException($"{path} must be {what ?? Article(kind)}, got {Describe(value)}");
        }
    }

    public static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        JsonValueKind.String => $"the string \"{value.GetString()}\"",
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
        _ => "null",
    };

    /// <summary>An error for an unknown key, suggesting the closest known one.</summary>
    public static ArgumentException UnknownKey(string key, string where, IReadOnlyList<string> known)
    {
        var lowered = key.ToLowerInvariant();
        var closest = known.FirstOrDefault(k => k.StartsWith(lowered, StringComparison.Ordinal)) ?? known.MinBy(k => Distance(lowered, k));
        var suggestion = closest is not null && (closest.StartsWith(lowered, StringComparison.Ordinal) || Distance(lowered, closest) <= Math.Max(2, closest.Length / 3))
            ? $"; did you mean '{closest}'?"
            : "";
        return new ArgumentException($"unknown key '{key}' in {where}{suggestion} (known keys: {string.Join(", ", known)})");
    }

    private static string Article(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        JsonValueKind.String => "a string",
        _ => kind.ToString().ToLowerInvariant(),
    };

    private static int Distance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }

            previous = current;
        }

        return previous[b.Length];
    }
}
