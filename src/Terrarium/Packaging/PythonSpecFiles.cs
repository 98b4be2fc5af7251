using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Terrarium.Packaging;

/// <summary>
/// Files a Python env names — a <c>requirements.txt</c>, an <c>environment.yml</c> — read when the
/// task is submitted, so that their content ships with the env and is part of its identity.
/// </summary>
internal static class PythonSpecFiles
{
    /// <summary>Whether a <c>conda</c> string names an environment file rather than an environment.</summary>
    public static bool IsEnvironmentFile(string conda) =>
        conda.EndsWith(".yml", StringComparison.OrdinalIgnoreCase) || conda.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase);

    /// <summary>The requirement lines of a requirements file: comments and blank lines left out.</summary>
    /// <exception cref="ArgumentException">The file is missing or unreadable, or includes other files.</exception>
    public static IReadOnlyList<string> ReadRequirements(string file, string paramName)
    {
        var lines = ReadAll(file, "pip.requirements_file", paramName).Split('\n')
            .Select(line => (line.IndexOf(" #", StringComparison.Ordinal) is var comment and >= 0 ? line[..comment] : line).Trim())
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .ToList();
        if (lines.FirstOrDefault(l => l.Split(' ', '=')[0] is "-r" or "-c" or "--requirement" or "--constraint") is { } include)
        {
            throw new ArgumentException(
                $"pip.requirements_file '{file}' includes another file ('{include}'), which would not ship with the env; list its requirements in this file", paramName);
        }

        return lines.Count > 0 ? lines : throw new ArgumentException($"pip.requirements_file '{file}' lists no requirements", paramName);
    }

    /// <summary>An <c>environment.yml</c> as the JSON object the <c>conda</c> field carries.</summary>
    /// <exception cref="ArgumentException">The file is missing, unreadable, or not a YAML mapping.</exception>
    public static string ReadEnvironmentFile(string file, string paramName)
    {
        var yaml = new YamlStream();
        try
        {
            yaml.Load(new StringReader(ReadAll(file, "conda", paramName)));
        }
        catch (YamlException e)
        {
            throw new ArgumentException($"conda environment file '{file}' is not valid YAML: {e.Message}", paramName, e);
        }

        if (yaml.Documents.FirstOrDefault()?.RootNode is not YamlMappingNode root)
        {
            throw new ArgumentException($"conda environment file '{file}' is not a YAML mapping (name, channels, dependencies)", paramName);
        }

        try
        {
            return ToJson(root)!.ToJsonString();
        }
        catch (InvalidDataException e)
        {
            throw new ArgumentException($"conda environment file '{file}': {e.Message}", paramName, e);
        }
    }

    private static string ReadAll(string file, string field, string paramName)
    {
        var path = Path.GetFullPath(file);
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"{field} '{file}' cannot be read (resolved to {path}): {e.Message}", paramName, e);
        }
    }

    /// <summary>Scalars stay strings (a version such as 3.10 must not become 3.1); a plain null or ~ is null.</summary>
    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(kv => KeyValuePair.Create(
            kv.Key is YamlScalarNode { Value: { } key } ? key : throw new InvalidDataException($"a key at {kv.Key.Start} is not a plain name"), ToJson(kv.Value)))),
        YamlSequenceNode list => new JsonArray(list.Children.Select(ToJson).ToArray()),
        YamlScalarNode { Style: ScalarStyle.Plain, Value: "null" or "~" or "" } => null,
        YamlScalarNode scalar => JsonValue.Create(scalar.Value),
        _ => null,
    };
}
