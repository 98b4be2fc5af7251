using System.Text.Json;

namespace Terrarium.Internal.RuntimeEnvFields;

/// <summary><c>pip</c>: a list of requirements, a requirements.txt path, or <c>{packages, requirements_file, install_options}</c>.</summary>
internal sealed class PipField() : RuntimeEnvField<PipSpec>("pip")
{
    private static readonly string[] s_keys = ["packages", "requirements_file", "install_options"];

    protected override PipSpec? Get(RuntimeEnv env) => env.Pip;

    protected override RuntimeEnv With(RuntimeEnv env, PipSpec? value) => env with { Pip = value };

    protected override PipSpec Parse(string key, JsonElement value, string path)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Array:
                return new PipSpec { Packages = RuntimeEnvJson.Strings(value, path) };
            case JsonValueKind.String:
                return new PipSpec { RequirementsFile = value.GetString() };
        }

        RuntimeEnvJson.Expect(value, JsonValueKind.Object, path, "a list of requirements, a requirements.txt path, or an object");
        var spec = new PipSpec();
        foreach (var field in value.EnumerateObject().Where(f => !RuntimeEnvJson.IsNullOf(f, s_keys)))
        {
            spec = field.Name switch
            {
                "packages" => spec with { Packages = RuntimeEnvJson.Strings(field.Value, path + ".packages") },
                "requirements_file" => spec with { RequirementsFile = RuntimeEnvJson.String(field.Value, path + ".requirements_file") },
                "install_options" => spec with { InstallOptions = RuntimeEnvJson.Strings(field.Value, path + ".install_options") },
                _ => throw RuntimeEnvJson.UnknownKey(field.Name, path, s_keys),
            };
        }

        return spec;
    }

    protected override void WriteValue(Utf8JsonWriter json, PipSpec value)
    {
        if (value.RequirementsFile is null && value.InstallOptions.Count == 0)
        {
            RuntimeEnvJson.WriteStrings(json, value.Packages);
            return;
        }

        json.WriteStartObject();
        RuntimeEnvJson.WriteStrings(json, "install_options", value.InstallOptions);
        RuntimeEnvJson.WriteStrings(json, "packages", value.Packages);
        if (value.RequirementsFile is { } file)
        {
            json.WriteString("requirements_file", file);
        }

        json.WriteEndObject();
    }

    protected override void Check(PipSpec value, string paramName) => throw Unsupported.Field(Name, paramName);
}
