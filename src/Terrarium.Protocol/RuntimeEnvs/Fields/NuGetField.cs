using System.Text.Json;

namespace Terrarium.Protocol.RuntimeEnvs.Fields;

/// <summary><c>nuget</c>: a list of packages, or <c>{packages, sources, exact}</c>; packages are sorted in the canonical JSON.</summary>
internal sealed class NuGetField() : RuntimeEnvField<NuGetSpec>("nuget")
{
    protected override NuGetSpec? Get(RuntimeEnv env) => env.NuGet;

    protected override RuntimeEnv With(RuntimeEnv env, NuGetSpec? value) => env with { NuGet = value };

    protected override NuGetSpec Parse(string key, JsonElement value, string path)
    {
        if (value.ValueKind == JsonValueKind.Array)
        {
            return new NuGetSpec { Packages = RuntimeEnvJson.Strings(value, path) };
        }

        RuntimeEnvJson.Expect(value, JsonValueKind.Object, path, "a list of packages or an object with 'packages', 'sources' and 'exact'");
        var spec = new NuGetSpec();
        foreach (var field in value.EnumerateObject().Where(f => !RuntimeEnvJson.IsNullOf(f, "packages", "sources", "exact")))
        {
            spec = field.Name switch
            {
                "packages" => spec with { Packages = RuntimeEnvJson.Strings(field.Value, path + ".packages") },
                "sources" => spec with { Sources = RuntimeEnvJson.Strings(field.Value, path + ".sources") },
                "exact" => spec with
                {
                    Exact = field.Value.ValueKind is JsonValueKind.True or JsonValueKind.False
                        ? field.Value.GetBoolean()
                        : throw new ArgumentException($"{path}.exact must be true or false, got {RuntimeEnvJson.Describe(field.Value)}"),
                },
                _ => throw RuntimeEnvJson.UnknownKey(field.Name, path, ["packages", "sources", "exact"]),
            };
        }

        return spec;
    }

    protected override void WriteValue(Utf8JsonWriter json, NuGetSpec value)
    {
        var packages = value.Packages.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        if (value.Sources.Count == 0 && !value.Exact)
        {
            RuntimeEnvJson.WriteStrings(json, packages);
            return;
        }

        json.WriteStartObject();
        if (value.Exact)
        {
            json.WriteBoolean("exact", true);
        }

        RuntimeEnvJson.WriteStrings(json, "packages", packages);
        if (value.Sources.Count > 0)
        {
            RuntimeEnvJson.WriteStrings(json, "sources", value.Sources);
        }

        json.WriteEndObject();
    }

    protected override void Check(NuGetSpec value, string paramName) => NuGetSpecValidator.Validate(value, paramName);
}
