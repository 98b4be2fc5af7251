using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Terrarium.Protocol.RuntimeEnvs.Fields;

namespace Terrarium.Protocol.RuntimeEnvs;

/// <summary>
/// Writes the canonical JSON form of a runtime env: fields in name order, each in its canonical
/// form, unset fields (and empty lists, maps and the default config) left out. Its SHA-256 is the
/// env's identity.
/// </summary>
internal static class RuntimeEnvWriter
{
    public static string Write(RuntimeEnv env)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            foreach (var field in EnvFields.All)
            {
                field.Write(env, json);
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The env's identity: the SHA-256 of its canonical JSON; empty for an empty env.</summary>
    public static string Hash(string canonicalJson) => canonicalJson == "{}"
        ? ""
        : Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalJson))).ToLowerInvariant();
}
