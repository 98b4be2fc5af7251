using System.Text.Json;

namespace Terrarium.Protocol.RuntimeEnvs.Fields;

/// <summary>A list of non-blank strings; an empty list is "not set", so the base env's list applies.</summary>
internal abstract class ListField(string name) : RuntimeEnvField<IReadOnlyList<string>>(name)
{
    protected override IReadOnlyList<string>? Parse(string key, JsonElement value, string path) => RuntimeEnvJson.StringsOrUnset(value, path);

    protected override void WriteValue(Utf8JsonWriter json, IReadOnlyList<string> value) => RuntimeEnvJson.WriteStrings(json, value);

    protected override bool MeansUnset(IReadOnlyList<string> value) => value.Count == 0;

    protected override void Check(IReadOnlyList<string> value, string paramName)
    {
        for (var i = 0; i < value.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(value[i]))
            {
                throw new ArgumentException($"runtime_env.{Name}[{i}] must not be blank", paramName);
            }

            CheckEntry(value[i], paramName);
        }
    }

    protected virtual void CheckEntry(string entry, string paramName)
    {
    }

    /// <summary><c>modules</c>: local directories, .dll or .nupkg files, or URIs.</summary>
    public sealed class Modules() : ListField("modules")
    {
        protected override IReadOnlyList<string>? Get(RuntimeEnv env) => env.Modules;

        protected override RuntimeEnv With(RuntimeEnv env, IReadOnlyList<string>? value) => env with { Modules = value };

        protected override void CheckEntry(string entry, string paramName) => UriSchemes.Check(Name, entry, paramName);
    }

    /// <summary><c>excludes</c>: gitignore-style patterns, spent when the client packages local paths.</summary>
    public sealed class Excludes() : ListField("excludes")
    {
        protected override IReadOnlyList<string>? Get(RuntimeEnv env) => env.Excludes;

        protected override RuntimeEnv With(RuntimeEnv env, IReadOnlyList<string>? value) => env with { Excludes = value };
    }
}
