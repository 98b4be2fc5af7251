using System.Text.Json;

namespace Terrarium.Internal;

/// <summary>Parses the JSON form of a runtime env, naming the key or value that is wrong.</summary>
internal static class RuntimeEnvReader
{
    public static readonly string[] Keys =
        ["working_dir", "modules", "excludes", "nuget", "pip", "conda", "container", "image_uri", "env_vars", "config"];

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
        Expect(root, JsonValueKind.Object, "runtime_env");
        var env = new RuntimeEnv();
        foreach (var field in root.EnumerateObject())
        {
            var path = "runtime_env." + field.Name;
            var value = field.Value;
            if (value.ValueKind == JsonValueKind.Null && Keys.Contains(field.Name))
            {
                // As in Ray: null means "not set".
                continue;
            }

            env = field.Name switch
            {
                "working_dir" => env with { WorkingDir = String(value, path) },
                "modules" => env with { Modules = NullIfEmpty(Strings(value, path)) },
                "excludes" => env with { Excludes = NullIfEmpty(Strings(value, path)) },
                "nuget" => env with { NuGet = NuGet(value, path) },
                "pip" => env with { Pip = Pip(value, path) },
                "conda" => env with { Conda = Conda(value, path) },
                "container" => env with { Container = env.Container is null ? Container(value, path) : throw BothContainerForms() },
                // Ray's newer spelling of a container without options: the same env as {"container": {"image": ...}}.
                "image_uri" => env with { Container = env.Container is null ? new ContainerSpec { Image = String(value, path) } : throw BothContainerForms() },
                "env_vars" => env with { EnvVars = EnvVars(value, path) is { Count: > 0 } envVars ? envVars : null },
                "config" => env with { Config = Config(value, path) },
                _ => throw UnknownKey(field.Name, "runtime_env", Keys),
            };
        }

        return env;
    }

    private static ArgumentException BothContainerForms() =>
        new("runtime_env has both 'container' and 'image_uri'; give one (image_uri is container.image without run_options)");

    /// <summary>An empty list is the same as no list: <c>{"excludes": []}</c> and <c>{}</c> are one env.</summary>
    private static IReadOnlyList<string>? NullIfEmpty(IReadOnlyList<string> values) => values.Count == 0 ? null : values;

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

    /// <summary>A known key whose value is null: "not set", as in Ray.</summary>
    private static bool IsNullOf(JsonProperty field, params string[] known) =>
        field.Value.ValueKind == JsonValueKind.Null && known.Contains(field.Name);

    private static NuGetSpec NuGet(JsonElement value, string path)
    {
        if (value.ValueKind == JsonValueKind.Array)
        {
            return new NuGetSpec { Packages = Strings(value, path) };
        }

        Expect(value, JsonValueKind.Object, path, "a list of packages or an object with 'packages' and 'sources'");
        var spec = new NuGetSpec();
        foreach (var field in value.EnumerateObject().Where(f => !IsNullOf(f, "packages", "sources")))
        {
            spec = field.Name switch
            {
                "packages" => spec with { Packages = Strings(field.Value, path + ".packages") },
                "sources" => spec with { Sources = Strings(field.Value, path + ".sources") },
                _ => throw UnknownKey(field.Name, path, ["packages", "sources"]),
            };
        }

        return spec;
    }

    private static PipSpec Pip(JsonElement value, string path)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Array:
                return new PipSpec { Packages = Strings(value, path) };
            case JsonValueKind.String:
                return new PipSpec { RequirementsFile = value.GetString() };
        }

        Expect(value, JsonValueKind.Object, path, "a list of requirements, a requirements.txt path, or an object");
        var spec = new PipSpec();
        foreach (var field in value.EnumerateObject().Where(f => !IsNullOf(f, "packages", "requirements_file", "install_options")))
        {
            spec = field.Name switch
            {
                "packages" => spec with { Packages = Strings(field.Value, path + ".packages") },
                "requirements_file" => spec with { RequirementsFile = String(field.Value, path + ".requirements_file") },
                "install_options" => spec with { InstallOptions = Strings(field.Value, path + ".install_options") },
                _ => throw UnknownKey(field.Name, path, ["packages", "requirements_file", "install_options"]),
            };
        }

        return spec;
    }

    private static CondaSpec Conda(JsonElement value, string path)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            return new CondaSpec { Environment = value.GetString() };
        }

        Expect(value, JsonValueKind.Object, path, "an environment name, a prefix path, or an environment spec object");
        return new CondaSpec { SpecJson = value.GetRawText() };
    }

    private static ContainerSpec Container(JsonElement value, string path)
    {
        Expect(value, JsonValueKind.Object, path, "an object with 'image' and optional 'run_options'");
        string? image = null;
        IReadOnlyList<string> runOptions = [];
        foreach (var field in value.EnumerateObject().Where(f => !IsNullOf(f, "image", "run_options")))
        {
            switch (field.Name)
            {
                case "image":
                    image = String(field.Value, path + ".image");
                    break;
                case "run_options":
                    runOptions = Strings(field.Value, path + ".run_options");
                    break;
                default:
                    throw UnknownKey(field.Name, path, ["image", "run_options"]);
            }
        }

        return image is null
            ? throw new ArgumentException($"{path} needs an 'image'")
            : new ContainerSpec { Image = image, RunOptions = runOptions };
    }

    private static Dictionary<string, string> EnvVars(JsonElement value, string path)
    {
        Expect(value, JsonValueKind.Object, path, "an object of string values");
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var field in value.EnumerateObject())
        {
            result[field.Name] = field.Value.ValueKind == JsonValueKind.String
                ? field.Value.GetString()!
                : throw new ArgumentException($"{path}.{field.Name} must be a string, got {Describe(field.Value)}");
        }

        return result;
    }

    private static RuntimeEnvConfig Config(JsonElement value, string path)
    {
        Expect(value, JsonValueKind.Object, path);
        var config = new RuntimeEnvConfig();
        foreach (var field in value.EnumerateObject().Where(f => !IsNullOf(f, "setup_timeout_seconds", "eager_install")))
        {
            config = field.Name switch
            {
                "setup_timeout_seconds" => config with
                {
                    SetupTimeoutSeconds = field.Value.ValueKind == JsonValueKind.Number && field.Value.TryGetInt32(out var seconds)
                        ? RuntimeEnvConfig.CheckTimeout(seconds, $"{path}.setup_timeout_seconds")
                        : throw new ArgumentException($"{path}.setup_timeout_seconds must be a whole number, got {Describe(field.Value)}"),
                },
                "eager_install" => config with
                {
                    EagerInstall = field.Value.ValueKind is JsonValueKind.True or JsonValueKind.False
                        ? field.Value.GetBoolean()
                        : throw new ArgumentException($"{path}.eager_install must be true or false, got {Describe(field.Value)}"),
                },
                _ => throw UnknownKey(field.Name, path, ["setup_timeout_seconds", "eager_install"]),
            };
        }

        return config;
    }

    private static string String(JsonElement value, string path)
    {
        Expect(value, JsonValueKind.String, path);
        return value.GetString()!;
    }

    private static string[] Strings(JsonElement value, string path)
    {
        Expect(value, JsonValueKind.Array, path, "a list of strings");
        return value.EnumerateArray()
            .Select((item, i) => item.ValueKind == JsonValueKind.String
                ? item.GetString()!
                : throw new ArgumentException($"{path}[{i}] must be a string, got {Describe(item)}"))
            .ToArray();
    }

    private static void Expect(JsonElement value, JsonValueKind kind, string path, string? what = null)
    {
        if (value.ValueKind != kind)
        {
            throw new ArgumentException($"{path} must be {what ?? Article(kind)}, got {Describe(value)}");
        }
    }

    private static string Article(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        JsonValueKind.String => "a string",
        _ => kind.ToString().ToLowerInvariant(),
    };

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        JsonValueKind.String => $"the string \"{value.GetString()}\"",
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
        _ => "null",
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
