using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Terrarium.Node.RuntimeEnvs.Container;
using Terrarium.Node.Service;
using Terrarium.Protocol.LocalFiles;
using Terrarium.Protocol.RuntimeEnvs.Fields;

namespace Terrarium.Node.RuntimeEnvs.Conda;

/// <summary>
/// <c>conda</c>: activates an existing environment (a prefix path, or a name found where conda keeps
/// environments, else asked of the node's conda tool), or creates one from a spec with that tool,
/// once per spec, in the node's cache, one creation at a time. Activation runs the environment's
/// <c>activate.d</c> hooks, as <c>conda activate</c> does.
/// </summary>
internal sealed class CondaPreparer(NodeOptions options, ILogger<CondaPreparer> logger) : FieldPreparer<CondaSpec>(EnvFields.Conda)
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromHours(1);
    private static readonly string[] s_tools = ["micromamba", "mamba", "conda"];
    private readonly SharedBuilds<PythonEnvironment> _created = new();

    // conda's package cache does not take two creations at once (Ray's issue 17086).
    private readonly SemaphoreSlim _creating = new(1, 1);

    // What a hook's shell sets that is the shell's, not the environment's.
    private static readonly HashSet<string> s_shellVariables = new(StringComparer.Ordinal) { "PWD", "OLDPWD", "SHLVL", "_", "PATH" };

    protected override async Task<FieldSetup> PrepareAsync(CondaSpec spec, IWorkerLauncher? launcher, CancellationToken ct)
    {
        if (launcher is ContainerLauncher container)
        {
            return await ActivateInImageAsync(spec, container, ct).ConfigureAwait(false);
        }

        if (spec.Environment is { } given)
        {
            var prefix = given.Contains('/', StringComparison.Ordinal) ? CheckPrefix(given) : await FindByNameAsync(given, ct).ConfigureAwait(false);
            CheckTrusted(prefix);
            var environment = await PythonEnvironment.DescribeAsync(prefix, Name, PythonEnvironment.OnNode(options.CacheDirectory), ct).ConfigureAwait(false);
            return await ActivateWithHooksAsync(environment, given, ct).ConfigureAwait(false);
        }

        var specJson = CanonicalJson(spec);
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(specJson)))[..32].ToLowerInvariant();
        var created = await _created.GetAsync(key, abandoned => CreateAsync(Path.Combine(options.CacheDirectory, "conda", key), specJson, abandoned), ct,
            created => Directory.Exists(created.Prefix)).ConfigureAwait(false);
        return await ActivateWithHooksAsync(created, created.Prefix, ct).ConfigureAwait(false);
    }

    /// <summary>In a container, a prefix of the image is activated; names and specs would need the image's own conda tool.</summary>
    private async Task<FieldSetup> ActivateInImageAsync(CondaSpec spec, ContainerLauncher container, CancellationToken ct)
    {
        var prefix = spec.Environment ?? "";
        if (!prefix.StartsWith('/'))
        {
            throw new RuntimeEnvSetupFailure(Name, $"inside a container, conda takes the absolute prefix path of an environment in image '{container.Image}'; names and specs are not supported there yet", "");
        }

        PythonEnvironment.Runner inImage = (command, token) => container.RunAsync(command, [], token);
        if (!await PythonEnvironment.ExistsAsync(inImage, Path.Combine(prefix, "conda-meta"), ct).ConfigureAwait(false))
        {
            throw new RuntimeEnvSetupFailure(Name, $"'{prefix}' is not a conda environment in image '{container.Image}' (it has no conda-meta folder)", "");
        }

        return Activate(await PythonEnvironment.DescribeAsync(prefix, Name, inImage, ct, inImage: true).ConfigureAwait(false), prefix);
    }

    private static FieldSetup Activate(PythonEnvironment environment, string name) =>
        environment.Setup(new Dictionary<string, string> { ["CONDA_PREFIX"] = environment.Prefix, ["CONDA_DEFAULT_ENV"] = name });

    /// <summary>
    /// Activates a prefix of the node as <c>conda activate</c> does: its variables, then what its
    /// <c>etc/conda/activate.d/*.sh</c> hooks set (a CUDA path, a licence server), sourced once here in
    /// a shell and given to every worker of the env. A hook that fails fails the setup.
    /// </summary>
    private async Task<FieldSetup> ActivateWithHooksAsync(PythonEnvironment environment, string name, CancellationToken ct)
    {
        var activated = Activate(environment, name);
        var folder = Path.Combine(environment.Prefix, "etc", "conda", "activate.d");
        var hooks = Directory.Exists(folder) ? Directory.GetFiles(folder, "*.sh").Order(StringComparer.Ordinal).ToList() : [];
        if (hooks.Count == 0)
        {
            return activated;
        }

        // They run as this node's user, here and in effect in every worker: like the prefix's Python, only its owner may write them.
        if (hooks.Prepend(folder).Select(h => (Hook: h, Problem: TrustedPath.Problem(h))).FirstOrDefault(h => h.Problem is not null) is { Hook: not null } untrusted)
        {
            throw new RuntimeEnvSetupFailure(Name, $"refusing the activation hook '{untrusted.Hook}' on node {options.NodeId}: {untrusted.Problem}, so it could be anyone's code", "");
        }

        var start = new System.Diagnostics.ProcessStartInfo("/bin/sh") { WorkingDirectory = options.CacheDirectory };
        foreach (var argument in new[] { "-c", "for hook in \"$@\"; do . \"$hook\" || exit $?; done; env -0", "sh" }.Concat(hooks))
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (variable, value) in activated.EnvVars)
        {
            start.Environment[variable] = value;
        }

        start.Environment["PATH"] = $"{Path.Combine(environment.Prefix, "bin")}{Path.PathSeparator}{start.Environment["PATH"]}";
        var before = start.Environment.ToDictionary(v => v.Key, v => v.Value, StringComparer.Ordinal);
        SetupLog.Current?.Output($"running {hooks.Count} activation hook{(hooks.Count == 1 ? "" : "s")} of {environment.Prefix}: {string.Join(", ", hooks.Select(Path.GetFileName))}");
        // Its output is the environment's values: kept out of the setup log.
        var (exitCode, output, errors) = await CommandRunner.RunAsync(start, ct, logged: false).ConfigureAwait(false);
        if (exitCode != 0)
        {
            throw new RuntimeEnvSetupFailure(Name, $"an activation hook of '{environment.Prefix}' failed (exit code {exitCode}): {errors.Split('\n').LastOrDefault(l => l.Length > 0)}", errors);
        }

        var set = new Dictionary<string, string>(activated.EnvVars, StringComparer.Ordinal);
        foreach (var pair in output.Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0 && pair[..equals] is var variable && !s_shellVariables.Contains(variable) &&
                (!before.TryGetValue(variable, out var was) || was != pair[(equals + 1)..]))
            {
                set[variable] = pair[(equals + 1)..];
            }
        }

        return activated with { EnvVars = set };
    }

    /// <summary>
    /// The prefix's Python runs as this node's user, during setup and in every worker: another user
    /// who could write to the prefix or a folder above it could put their code there.
    /// </summary>
    private void CheckTrusted(string prefix)
    {
        var bin = Path.Combine(prefix, "bin");
        var python = Path.Combine(bin, "python");
        if ((TrustedPath.Problem(prefix) ?? (Directory.Exists(bin) ? TrustedPath.Problem(bin) : null) ?? (File.Exists(python) ? TrustedPath.Problem(python) : null)) is { } problem)
        {
            throw new RuntimeEnvSetupFailure(Name,
                $"refusing conda environment '{prefix}' on node {options.NodeId}: {problem}, so its Python could be anyone's code. " +
                "Keep conda environments in folders only root or the node's user can write", "");
        }
    }

    /// <summary>A prefix works without any conda tool on the node: it only has to be a conda environment.</summary>
    private string CheckPrefix(string prefix) =>
        Directory.Exists(Path.Combine(prefix, "conda-meta"))
            ? Path.GetFullPath(prefix)
            : throw new RuntimeEnvSetupFailure(Name, $"'{prefix}' is not a conda environment on node {options.NodeId} (it has no conda-meta folder)", "");

    /// <summary>
    /// The prefix of the environment <paramref name="name"/>: found where conda keeps environments
    /// (<see cref="CondaEnvLocator"/>) without running anything, else as the node's conda tool lists it.
    /// </summary>
    private async Task<string> FindByNameAsync(string name, CancellationToken ct)
    {
        var configured = options.Python.CondaCommand ?? s_tools.FirstOrDefault(t => OnPath(t) is not null);
        var toolPath = configured is null ? null : Path.IsPathRooted(configured) ? configured : OnPath(configured);
        var home = Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } set ? set : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (CondaEnvLocator.Find(name, Environment.GetEnvironmentVariable, home, toolPath) is { } found)
        {
            SetupLog.Current?.Output($"conda environment '{name}' is {found}");
            return found;
        }

        if (configured is null)
        {
            var places = CondaEnvLocator.Candidates(name, Environment.GetEnvironmentVariable, home, null).Select(c => c.Prefix).Distinct();
            throw new RuntimeEnvSetupFailure(Name,
                $"node {options.NodeId} has no conda environment named '{name}': none of {string.Join(", ", places)} is one, " +
                "and the node has no conda tool (micromamba, mamba or conda) to ask; give the environment's prefix path, " +
                "or name a tool with 'terrarium start --conda-command PATH' (NodeOptions.Python.CondaCommand)", "");
        }

        var tool = Tool("look up the conda environment '" + name + "'");
        var (exitCode, output, errors) = await CommandRunner.RunAsync(tool, ["env", "list", "--json"], options.CacheDirectory, ct).ConfigureAwait(false);
        if (exitCode != 0)
        {
            throw new RuntimeEnvSetupFailure(Name, $"'{tool} env list' failed: {errors.Split('\n').LastOrDefault()}", errors);
        }

        List<string> prefixes;
        try
        {
            using var listed = JsonDocument.Parse(output);
            prefixes = listed.RootElement.GetProperty("envs").EnumerateArray().Select(e => e.GetString() ?? throw new InvalidDataException("an environment is not a path")).ToList();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or InvalidDataException)
        {
            throw new RuntimeEnvSetupFailure(Name,
                $"'{tool} env list --json' did not print conda's list of environments ({{\"envs\": [...]}}), so '{name}' cannot be looked up: " +
                $"{output.Split('\n').FirstOrDefault()?.Trim()}", $"{output}\n{errors}");
        }

        return prefixes.FirstOrDefault(p => Path.GetFileName(p) == name) ?? (name == "base" ? prefixes.FirstOrDefault() : null)
            ?? throw new RuntimeEnvSetupFailure(Name, $"node {options.NodeId} has no conda environment named '{name}' (it has: {string.Join(", ", prefixes.Select(Path.GetFileName))})", output);
    }

    /// <summary>Creates the environment; <paramref name="abandoned"/> fires when no env's setup waits for it any more, which kills the tool.</summary>
    private async Task<PythonEnvironment> CreateAsync(string prefix, string spec, CancellationToken abandoned)
    {
        var tool = Tool("create a conda environment from a spec");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(abandoned);
        timeout.CancelAfter(BuildTimeout);
        await CacheFolder.EnsureBuiltAsync(prefix, Name, async ct =>
        {
            NodeLog.CreatingCondaEnv(logger, prefix, tool);
            // JSON is YAML: the spec is the environment.yml the tool reads.
            var file = prefix + ".yml";
            await File.WriteAllTextAsync(file, spec, ct).ConfigureAwait(false);
            string[] arguments = Path.GetFileName(tool) == "micromamba"
                ? ["create", "--yes", "--prefix", prefix, "--file", file]
                : ["env", "create", "--prefix", prefix, "--file", file];
            var run = PythonEnvironment.OnNode(options.CacheDirectory, SetupLog.Current?.ToolEnvironment);
            await _creating.WaitAsync(ct).ConfigureAwait(false);
            (int ExitCode, string Output, string Errors) result;
            try
            {
                result = await run([tool, .. arguments], ct).ConfigureAwait(false);
            }
            finally
            {
                _creating.Release();
            }

            var (exitCode, output, errors) = result;
            return exitCode == 0
                ? output
                : throw new RuntimeEnvSetupFailure(Name, $"{tool} could not create the environment: {errors.Split('\n').LastOrDefault(l => l.Length > 0)}", $"{output}\n{errors}");
        }, timeout.Token).ConfigureAwait(false);
        return await PythonEnvironment.DescribeAsync(prefix, Name, PythonEnvironment.OnNode(options.CacheDirectory), timeout.Token).ConfigureAwait(false);
    }

    /// <summary>The node's conda tool: configured, or the first of micromamba, mamba and conda on PATH.</summary>
    private string Tool(string purpose) =>
        options.Python.CondaCommand
        ?? s_tools.FirstOrDefault(t => OnPath(t) is not null)
        ?? throw new RuntimeEnvSetupFailure(Name,
            $"node {options.NodeId} has no conda tool to {purpose}: install micromamba, mamba or conda on it, " +
            "or name one with 'terrarium start --conda-command PATH' (NodeOptions.Python.CondaCommand); a prefix path needs none", "");

    private static string? OnPath(string command) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, command))
            .FirstOrDefault(File.Exists);
}
