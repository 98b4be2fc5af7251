using Terrarium.Protocol;
using Terrarium.Protocol.RuntimeEnvs.Fields;

namespace Terrarium.Node.RuntimeEnvs;

/// <summary>
/// What one runtime-env field means on a node: how it is prepared, and what the worker then gets.
/// Preparers derive from <see cref="FieldPreparer{TSpec}"/>, which hands them the field's value as
/// the shared model (<c>Terrarium.Protocol/RuntimeEnvs/Fields</c>) read it.
/// </summary>
internal interface IFieldPreparer
{
    /// <summary>The field's key in the env's JSON (<c>working_dir</c>, <c>container</c>, ...).</summary>
    string Name { get; }

    /// <summary>Whether the field decides how the env's workers start (a container): such fields are prepared first.</summary>
    bool SetsLauncher { get; }

    /// <summary>Whether <paramref name="env"/> sets the field.</summary>
    bool IsSetIn(RuntimeEnv env);

    /// <summary>Prepares the field of <paramref name="env"/> on this node; see <see cref="FieldPreparer{TSpec}.PrepareAsync(TSpec, IWorkerLauncher?, CancellationToken)"/>.</summary>
    Task<FieldSetup> PrepareAsync(RuntimeEnv env, IWorkerLauncher? launcher, CancellationToken ct);
}

/// <summary>
/// The preparer of the field <paramref name="model"/>, whose value is a <typeparamref name="TSpec"/>.
/// Adding a field is its model, one class derived from this, and one registration in <see cref="NodeServer"/>.
/// </summary>
/// <remarks>
/// The client validated the value at submission; the node read it again through the same model and
/// still must not trust it, so a value that does not fit fails with <see cref="RuntimeEnvSetupFailure"/>.
/// </remarks>
internal abstract class FieldPreparer<TSpec>(RuntimeEnvField<TSpec> model) : IFieldPreparer
    where TSpec : class
{
    public string Name => model.Name;

    public virtual bool SetsLauncher => false;

    public bool IsSetIn(RuntimeEnv env) => model.ValueIn(env) is not null;

    public Task<FieldSetup> PrepareAsync(RuntimeEnv env, IWorkerLauncher? launcher, CancellationToken ct) =>
        PrepareAsync(model.ValueIn(env) ?? throw new InvalidOperationException($"the env does not set '{Name}'"), launcher, ct);

    /// <summary>
    /// Prepares the field on this node, once per env. Runs under the env's setup timeout.
    /// <paramref name="launcher"/> is how the env's workers start, when a field prepared before set
    /// it (a <c>container</c>, which <c>pip</c> installs into and <c>conda</c> activates a prefix of), or null.
    /// </summary>
    protected abstract Task<FieldSetup> PrepareAsync(TSpec spec, IWorkerLauncher? launcher, CancellationToken ct);

    /// <summary>The value in canonical JSON: the same spec, the same text, on every node and after every restart.</summary>
    protected string CanonicalJson(TSpec spec) => model.CanonicalJson(spec);
}

/// <summary>What preparing one field gives the worker; the build cache combines every field's into a <see cref="PreparedEnv"/>.</summary>
internal sealed record FieldSetup
{
    public static FieldSetup Nothing { get; } = new();

    /// <summary>Set in the worker process.</summary>
    public IReadOnlyDictionary<string, string> EnvVars { get; init; } = new Dictionary<string, string>();

    /// <summary>Set in the worker process after every field's <see cref="EnvVars"/>, so that they win: the user's own <c>env_vars</c>.</summary>
    public IReadOnlyDictionary<string, string> WinningEnvVars { get; init; } = new Dictionary<string, string>();

    /// <summary>Put ahead of the worker's <c>PATH</c>, in order.</summary>
    public IReadOnlyList<string> PathEntries { get; init; } = [];

    /// <summary>Where the worker finds assemblies, ahead of the job's code.</summary>
    public IReadOnlyList<string> AssemblyDirectories { get; init; } = [];

    /// <summary>Assemblies by simple name, loaded ahead of anything else of that name (the job's own copies included).</summary>
    public IReadOnlyDictionary<string, string> PreloadedAssemblies { get; init; } = new Dictionary<string, string>();

    /// <summary>Native libraries by name (no <c>lib</c> prefix or extension), for <c>DllImport</c>.</summary>
    public IReadOnlyDictionary<string, string> NativeLibraries { get; init; } = new Dictionary<string, string>();

    /// <summary>The packages the field resolved (id, version, the assets used), which the worker reports in its <c>RuntimeContext</c>.</summary>
    public IReadOnlyList<ResolvedNuGetPackage> ResolvedNuGetPackages { get; init; } = [];

    /// <summary>Folders of the node's cache the worker reads besides those above (a container mounts them read-only).</summary>
    public IReadOnlyList<string> ReadFolders { get; init; } = [];

    /// <summary>Folders of the node's cache the env depends on without its workers reading them (a pulled image's record).</summary>
    public IReadOnlyList<string> CachedFolders { get; init; } = [];

    /// <summary>The worker's current directory (its assemblies are probed too).</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>How the worker process is started, when not directly (inside a container).</summary>
    public IWorkerLauncher? Launcher { get; init; }
}
