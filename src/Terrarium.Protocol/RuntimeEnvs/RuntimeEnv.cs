using System.Collections.ObjectModel;
using Terrarium.Protocol.RuntimeEnvs;

namespace Terrarium;

/// <summary>
/// The environment a task or actor runs in: shipped code and files, NuGet packages, a Python or
/// conda environment, a container image and environment variables. Immutable; the JSON form
/// (<see cref="FromJson"/>, <see cref="ToJson"/>) uses Ray's <c>snake_case</c> keys.
/// </summary>
/// <remarks>
/// A job's env is the default of its tasks and actors; a task's own env overrides it field by
/// field, with <see cref="EnvVars"/> merged key by key. Two envs are equal when their JSON forms are.
/// </remarks>
public sealed record RuntimeEnv
{
    private readonly IReadOnlyList<string>? _modules;
    private readonly IReadOnlyList<string>? _excludes;
    private readonly IReadOnlyDictionary<string, string>? _envVars;

    /// <summary>A local directory or <c>.zip</c>, or a URI of a zip, unpacked on the node as the worker's current directory (<c>working_dir</c>).</summary>
    public string? WorkingDir { get; init; }

    /// <summary>Local directories, <c>.dll</c> or <c>.nupkg</c> files, or URIs, added to the worker's assembly probing (<c>modules</c>).</summary>
    public IReadOnlyList<string>? Modules { get => _modules; init => _modules = Freeze(value); }

    /// <summary>Gitignore-style patterns left out when packaging <see cref="WorkingDir"/> and <see cref="Modules"/> (<c>excludes</c>).</summary>
    public IReadOnlyList<string>? Excludes { get => _excludes; init => _excludes = Freeze(value); }

    /// <summary>NuGet packages restored on the node and loaded ahead of the job's own copies (<c>nuget</c>).</summary>
    public NuGetSpec? NuGet { get; init; }

    /// <summary>A Python virtual environment activated for the worker (<c>pip</c>).</summary>
    public PipSpec? Pip { get; init; }

    /// <summary>A conda environment activated for the worker (<c>conda</c>).</summary>
    public CondaSpec? Conda { get; init; }

    /// <summary>A container image the worker runs in (<c>container</c>).</summary>
    public ContainerSpec? Container { get; init; }

    /// <summary>Environment variables set in the worker process only (<c>env_vars</c>).</summary>
    public IReadOnlyDictionary<string, string>? EnvVars
    {
        get => _envVars;
        init => _envVars = value is null
            ? null
            : new ReadOnlyDictionary<string, string>(new SortedDictionary<string, string>(value.ToDictionary(), StringComparer.Ordinal));
    }

    /// <summary>Limits and timing of the setup (<c>config</c>).</summary>
    public RuntimeEnvConfig? Config { get; init; }

    /// <summary>Whether the env sets nothing (an empty list or map, or null in JSON, is "not set").</summary>
    public bool IsEmpty => ToJson() == "{}";

    /// <summary>Parses the JSON form, validating keys and types.</summary>
    /// <exception cref="ArgumentException">The JSON is malformed, has an unknown key (with a suggestion) or a value of the wrong type.</exception>
    public static RuntimeEnv FromJson(string json) => RuntimeEnvReader.Read(json);

    /// <summary>The JSON form: <c>snake_case</c> keys in a fixed order, unset fields left out.</summary>
    public string ToJson() => RuntimeEnvWriter.Write(this);

    /// <inheritdoc />
    public bool Equals(RuntimeEnv? other) => other is not null && ToJson() == other.ToJson();

    /// <inheritdoc />
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(ToJson());

    /// <inheritdoc />
    public override string ToString() => ToJson();

    private static ReadOnlyCollection<string>? Freeze(IReadOnlyList<string>? value) => value is null ? null : Array.AsReadOnly(value.ToArray());
}
