using System.Text.Json;

namespace Terrarium.Protocol.RuntimeEnvs.Fields;

/// <summary>
/// <c>pip</c>: a list of requirements, a requirements.txt path, or an object with Ray's keys. The
/// driver reads a requirements file into the packages when the task is submitted, so the file's
/// content, not its path, is part of the env's identity.
/// </summary>
internal sealed class PipField() : RuntimeEnvField<PipSpec>("pip")
{
    private static readonly string[] s_keys = ["packages", "requirements_file", "install_options", "pip_install_options", "pip_check", "pip_version"];

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
        var optionsKey = (string?)null;
        foreach (var field in value.EnumerateObject().Where(f => !RuntimeEnvJson.IsNullOf(f, s_keys)))
        {
            if (field.Name is "install_options" or "pip_install_options")
            {
                // Ray's newer key and Terrarium's first one mean the same.
                optionsKey = optionsKey is null ? field.Name : throw new ArgumentException($"{path} has both 'install_options' and 'pip_install_options'; give one");
            }

            spec = field.Name switch
            {
                "packages" => spec with { Packages = RuntimeEnvJson.Strings(field.Value, path + ".packages") },
                "requirements_file" => spec with { RequirementsFile = RuntimeEnvJson.String(field.Value, path + ".requirements_file") },
                "install_options" or "pip_install_options" => spec with { InstallOptions = RuntimeEnvJson.Strings(field.Value, $"{path}.{field.Name}") },
                "pip_check" => spec with
                {
                    PipCheck = field.Value.ValueKind is JsonValueKind.True or JsonValueKind.False
                        ? field.Value.GetBoolean()
                        : throw new ArgumentException($"{path}.pip_check must be true or false, got {RuntimeEnvJson.Describe(field.Value)}"),
                },
                "pip_version" => spec with { PipVersion = RuntimeEnvJson.String(field.Value, path + ".pip_version") },
                _ => throw RuntimeEnvJson.UnknownKey(field.Name, path, s_keys),
            };
        }

        return spec;
    }

    protected override void WriteValue(Utf8JsonWriter json, PipSpec value)
    {
        // The same requirements in another order, or one given twice, are the same venv.
        var packages = value.Packages.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (value.RequirementsFile is null && value.InstallOptions.Count == 0 && !value.PipCheck && value.PipVersion is null)
        {
            RuntimeEnvJson.WriteStrings(json, packages);
            return;
        }

        json.WriteStartObject();
        RuntimeEnvJson.WriteStrings(json, "install_options", value.InstallOptions);
        RuntimeEnvJson.WriteStrings(json, "packages", packages);
        if (value.PipCheck)
        {
            json.WriteBoolean("pip_check", true);
        }

        if (value.PipVersion is { } version)
        {
            json.WriteString("pip_version", version);
        }

        if (value.RequirementsFile is { } file)
        {
            json.WriteString("requirements_file", file);
        }

        json.WriteEndObject();
    }

    public override void Validate(RuntimeEnv env, string paramName)
    {
        base.Validate(env, paramName);
        if (env.Pip is not null && env.Conda is not null)
        {
            throw new ArgumentException("runtime_env has both 'pip' and 'conda': as in Ray, put the pip packages in the conda spec's dependencies ({\"pip\": [...]})", paramName);
        }

    }

    protected override void Check(PipSpec value, string paramName)
    {
        if (value.Packages is null || value.InstallOptions is null)
        {
            throw new ArgumentException("runtime_env.pip.packages and install_options must be lists, not null", paramName);
        }

        if (value.Packages.Count == 0 && value.RequirementsFile is null)
        {
            throw new ArgumentException("runtime_env.pip lists no packages and no requirements_file", paramName);
        }

        for (var i = 0; i < value.Packages.Count; i++)
        {
            // Each requirement is one line of the requirements file pip reads on the node.
            if (string.IsNullOrWhiteSpace(value.Packages[i]) || value.Packages[i].Any(c => c is '\n' or '\r' or '\0'))
            {
                throw new ArgumentException($"runtime_env.pip.packages[{i}] must be one non-blank line", paramName);
            }

            // A requirements file may hold options (-i URL, --extra-index-url), alone or after a requirement; not those.
            if (PipInstallOptions.LineRefusal(value.Packages[i]) is { } refusal)
            {
                throw new ArgumentException($"runtime_env.pip.packages[{i}]: {refusal}", paramName);
            }
        }

        for (var i = 0; i < value.InstallOptions.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(value.InstallOptions[i]) || value.InstallOptions[i].Contains('\0', StringComparison.Ordinal))
            {
                throw new ArgumentException($"runtime_env.pip.install_options[{i}] must not be blank", paramName);
            }

            if (PipInstallOptions.Refusal(value.InstallOptions[i]) is { } refusal)
            {
                throw new ArgumentException($"runtime_env.pip.install_options[{i}]: {refusal}", paramName);
            }
        }

        if (value.RequirementsFile is { } file && string.IsNullOrWhiteSpace(file))
        {
            throw new ArgumentException("runtime_env.pip.requirements_file must not be blank", paramName);
        }

        if (value.PipVersion is { } version && (string.IsNullOrWhiteSpace(version) || version.Any(c => char.IsWhiteSpace(c) || c == '\0')))
        {
            throw new ArgumentException($"runtime_env.pip.pip_version '{version}' is not a version or specifier (such as 23.2.1 or <24)", paramName);
        }
    }
}
