using System.Text.Json;
using Terrarium.Node.Internal.NuGetEnvs;

namespace Terrarium.Node.Internal.RuntimeEnvs;

/// <summary>
/// What one runtime-env field means on a node, keyed by its JSON name: how it is prepared, and what
/// the worker then gets. Adding a field is one class here and one registration in
/// <see cref="NodeServer"/>, besides its model (<c>Terrarium.Internal.RuntimeEnvFields</c>), which
/// reads, writes, merges and validates it for clients and nodes alike.
/// </summary>
/// <remarks>
/// The client validated the value at submission; the node still must not trust it, so a value that
/// does not fit fails with <see cref="RuntimeEnvSetupFailure"/> rather than an exception.
/// </remarks>
internal interface IFieldPreparer
{
    /// <summary>The field's key in the env's JSON (<c>working_dir</c>, <c>container</c>, ...).</summary>
    string Name { get; }

    /// <summary>Whether the field decides how the env's workers start (a container): such fields are prepared first.</summary>
    bool SetsLauncher => false;

    /// <summary>
    /// Prepares the field on this node, once per env. Runs under the env's setup timeout.
    /// <paramref name="launcher"/> is how the env's workers start, when a field prepared before set
    /// it (a <c>container</c>, which <c>pip</c> installs into and <c>conda</c> activates a prefix of), or null.
    /// </summary>
    Task<FieldSetup> PrepareAsync(JsonElement value, IWorkerLauncher? launcher, CancellationToken ct);
}

/// <summary>What preparing one field gives the worker; the agent combines every field's into a <see cref="PreparedEnv"/>.</summary>
internal sealed record FieldSetup
{
    public static FieldSetup Nothing { get; } = new();

    /// <summary>Set in the worker process.</summary>
    public IReadOnlyDictionary<string, string> EnvVars { get; init; } = new Dictionary<string, string>();

    /// <summary>Put ahead of the worker's <c>PATH</c>, in order.</summary>
    public IReadOnlyList<string> PathEntries { get; init; } = [];

    /// <summary>Where the worker finds assemblies, ahead of the job's code.</summary>
    public IReadOnlyList<string> AssemblyDirectories { get; init; } = [];

    /// <summary>The worker's current directory (its assemblies are probed too).</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Restored NuGet packages, loaded ahead of the job's own copies.</summary>
    public NuGetEnvironment? NuGet { get; init; }

    /// <summary>How the worker process is started, when not directly (inside a container).</summary>
    public IWorkerLauncher? Launcher { get; init; }
}
