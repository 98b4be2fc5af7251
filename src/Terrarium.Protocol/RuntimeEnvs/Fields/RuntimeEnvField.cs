using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Terrarium.Protocol.RuntimeEnvs.Fields;

/// <summary>
/// One field of the runtime-env model, keyed by its JSON name: how it is read, written in the
/// canonical JSON, merged over a base env and validated. Clients and nodes share these; packaging
/// (client) and preparing (node) are the other two halves of a field, in their own assemblies.
/// </summary>
internal abstract class RuntimeEnvField
{
    /// <summary>The field's key in the JSON form.</summary>
    public abstract string Name { get; }

    /// <summary>Other keys that mean the same field (Ray's spellings); the canonical JSON uses <see cref="Name"/>.</summary>
    public virtual IReadOnlyList<string> Aliases => [];

    /// <summary>Reads the JSON value of the field under <paramref name="key"/> (its name or an alias) into <paramref name="env"/>; null values are skipped before.</summary>
    /// <exception cref="ArgumentException">The value has the wrong shape; names the path.</exception>
    public abstract RuntimeEnv Read(RuntimeEnv env, string key, JsonElement value);

    /// <summary>Writes the field's canonical JSON, or nothing when it is not set.</summary>
    public abstract void Write(RuntimeEnv env, Utf8JsonWriter json);

    /// <summary>The field in <paramref name="merged"/> as <paramref name="specific"/> sets it over <paramref name="baseEnv"/>.</summary>
    public abstract RuntimeEnv Merge(RuntimeEnv merged, RuntimeEnv baseEnv, RuntimeEnv specific);

    /// <summary>Checks the field's value completely, before anything is uploaded or run.</summary>
    /// <exception cref="ArgumentException">Names the field and value that are wrong.</exception>
    public abstract void Validate(RuntimeEnv env, string paramName);
}

/// <summary>A field whose value is one property of <see cref="RuntimeEnv"/>; a more specific env's value replaces the base's.</summary>
internal abstract class RuntimeEnvField<T>(string name) : RuntimeEnvField
    where T : class
{
    public override string Name => name;

    /// <summary>The field's value in <paramref name="env"/>, as a preparer on a node receives it; null when not set.</summary>
    public T? ValueIn(RuntimeEnv env) => Get(env) is { } value && !MeansUnset(value) ? value : null;

    /// <summary>The field's value in canonical JSON, the same text it has inside the env's canonical JSON.</summary>
    public string CanonicalJson(T value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            WriteValue(json, value);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    protected abstract T? Get(RuntimeEnv env);

    protected abstract RuntimeEnv With(RuntimeEnv env, T? value);

    /// <summary>The value given under <paramref name="key"/>, or null when it means "not set" (an empty list or map).</summary>
    protected abstract T? Parse(string key, JsonElement value, string path);

    protected abstract void WriteValue(Utf8JsonWriter json, T value);

    /// <summary>Whether a value set through the API still means "not set" and is left out of the JSON.</summary>
    protected virtual bool MeansUnset(T value) => false;

    protected virtual void Check(T value, string paramName)
    {
    }

    public override RuntimeEnv Read(RuntimeEnv env, string key, JsonElement value)
    {
        if (Get(env) is not null)
        {
            throw new ArgumentException($"runtime_env sets '{Name}' twice: {string.Join(" and ", Aliases.Prepend(Name).Select(k => $"'{k}'"))} are the same field; give one");
        }

        return With(env, Parse(key, value, "runtime_env." + key));
    }

    public override void Write(RuntimeEnv env, Utf8JsonWriter json)
    {
        if (Get(env) is { } value && !MeansUnset(value))
        {
            json.WritePropertyName(Name);
            WriteValue(json, value);
        }
    }

    public override RuntimeEnv Merge(RuntimeEnv merged, RuntimeEnv baseEnv, RuntimeEnv specific) =>
        With(merged, Get(specific) is { } value && !MeansUnset(value) ? value : Get(baseEnv));

    public override void Validate(RuntimeEnv env, string paramName)
    {
        if (Get(env) is { } value)
        {
            Check(value, paramName);
        }
    }
}
