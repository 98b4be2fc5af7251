namespace Terrarium.Internal.RuntimeEnvFields;

/// <summary>Every field of the runtime-env model, in the order of the canonical JSON (by name).</summary>
internal static class EnvFields
{
    public static IReadOnlyList<RuntimeEnvField> All { get; } = new RuntimeEnvField[]
    {
        new CondaField(), new ConfigField(), new ContainerField(), new EnvVarsField(), new ListField.Excludes(),
        new ListField.Modules(), new NuGetField(), new PipField(), new WorkingDirField(),
    }.OrderBy(f => f.Name, StringComparer.Ordinal).ToArray();

    private static readonly Dictionary<string, RuntimeEnvField> s_byKey =
        All.SelectMany(f => f.Aliases.Prepend(f.Name).Select(key => (key, f))).ToDictionary(p => p.key, p => p.f, StringComparer.Ordinal);

    /// <summary>Every key the JSON form knows, names and aliases.</summary>
    public static IReadOnlyList<string> Keys { get; } = [.. s_byKey.Keys];

    public static RuntimeEnvField? ByKey(string key) => s_byKey.GetValueOrDefault(key);
}
