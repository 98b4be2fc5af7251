namespace Terrarium.Protocol.RuntimeEnvs.Fields;

/// <summary>
/// Every field of the runtime-env model, in the order of the canonical JSON (by name). The typed
/// instances are what a node's preparer for the field is built on.
/// </summary>
internal static class EnvFields
{
    public static CondaField Conda { get; } = new();

    public static ConfigField Config { get; } = new();

    public static ContainerField Container { get; } = new();

    public static EnvVarsField EnvVars { get; } = new();

    public static ListField.Excludes Excludes { get; } = new();

    public static ListField.Modules Modules { get; } = new();

    public static NuGetField NuGet { get; } = new();

    public static PipField Pip { get; } = new();

    public static WorkingDirField WorkingDir { get; } = new();

    public static IReadOnlyList<RuntimeEnvField> All { get; } = new RuntimeEnvField[]
    {
        Conda, Config, Container, EnvVars, Excludes, Modules, NuGet, Pip, WorkingDir,
    }.OrderBy(f => f.Name, StringComparer.Ordinal).ToArray();

    private static readonly Dictionary<string, RuntimeEnvField> s_byKey =
        All.SelectMany(f => f.Aliases.Prepend(f.Name).Select(key => (key, f))).ToDictionary(p => p.key, p => p.f, StringComparer.Ordinal);

    /// <summary>Every key the JSON form knows, names and aliases.</summary>
    public static IReadOnlyList<string> Keys { get; } = [.. s_byKey.Keys];

    public static RuntimeEnvField? ByKey(string key) => s_byKey.GetValueOrDefault(key);
}
