using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Terrarium.Internal;

/// <summary>
/// Writes the canonical JSON form of a runtime env: fixed key order, sorted maps, unset fields and
/// default config values left out. Its SHA-256 is the env's identity.
/// </summary>
internal static class RuntimeEnvWriter
{
    public static string Write(RuntimeEnv env)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (env.Conda is { } conda)
            {
                json.WritePropertyName("conda");
                if (conda.SpecJson is { } spec)
                {
                    using var document = JsonDocument.Parse(spec);
                    document.RootElement.WriteTo(json);
                }
                else
                {
                    json.WriteStringValue(conda.Environment);
                }
            }

            if (env.Config is { } config && config != new RuntimeEnvConfig())
            {
                json.WriteStartObject("config");
                json.WriteBoolean("eager_install", config.EagerInstall);
                json.WriteNumber("setup_timeout_seconds", config.SetupTimeoutSeconds);
                json.WriteEndObject();
            }

            if (env.Container is { } container)
            {
                json.WriteStartObject("container");
                json.WriteString("image", container.Image);
                WriteList(json, "run_options", container.RunOptions);
                json.WriteEndObject();
            }

            // An empty map or list is the same as none: one env, one hash.
            if (env.EnvVars is { Count: > 0 } envVars)
            {
                json.WriteStartObject("env_vars");
                foreach (var (name, value) in envVars)
                {
                    json.WriteString(name, value);
                }

                json.WriteEndObject();
            }

            WriteList(json, "excludes", env.Excludes ?? [], writeEmpty: false);
            WriteList(json, "modules", env.Modules ?? [], writeEmpty: false);
            if (env.NuGet is { } nuget)
            {
                if (nuget.Sources.Count == 0)
                {
                    WriteList(json, "nuget", nuget.Packages.Order(StringComparer.Ordinal).ToList());
                }
                else
                {
                    json.WriteStartObject("nuget");
                    WriteList(json, "packages", nuget.Packages.Order(StringComparer.Ordinal).ToList());
                    WriteList(json, "sources", nuget.Sources);
                    json.WriteEndObject();
                }
            }

            if (env.Pip is { } pip)
            {
                if (pip.RequirementsFile is null && pip.InstallOptions.Count == 0)
                {
                    WriteList(json, "pip", pip.Packages);
                }
                else
                {
                    json.WriteStartObject("pip");
                    WriteList(json, "install_options", pip.InstallOptions);
                    WriteList(json, "packages", pip.Packages);
                    if (pip.RequirementsFile is { } file)
                    {
                        json.WriteString("requirements_file", file);
                    }

                    json.WriteEndObject();
                }
            }

            if (env.WorkingDir is { } workingDir)
            {
                json.WriteString("working_dir", workingDir);
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The env's identity: the SHA-256 of its canonical JSON; empty for an empty env.</summary>
    public static string Hash(string canonicalJson) => canonicalJson == "{}"
        ? ""
        : Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalJson))).ToLowerInvariant();

    private static void WriteList(Utf8JsonWriter json, string name, IReadOnlyList<string>? values)
    {
        if (values is null)
        {
            return;
        }

        WriteList(json, name, values, writeEmpty: true);
    }

    /// <summary>Writes a list; an empty one only when it means something other than "not set".</summary>
    private static void WriteList(Utf8JsonWriter json, string name, IReadOnlyList<string> values, bool writeEmpty)
    {
        if (values.Count == 0 && !writeEmpty)
        {
            return;
        }

        json.WriteStartArray(name);
        foreach (var value in values)
        {
            json.WriteStringValue(value);
        }

        json.WriteEndArray();
    }
}
