using System.Collections.Concurrent;
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
/// <c>conda</c>: activates an existing environment (a prefix path, or a name the node's conda tool
/// knows), or creates one from a spec with that tool, once per spec, in the node's cache.
/// </summary>
internal sealed class CondaPreparer(NodeOptions options, ILogger<CondaPreparer> logger) : FieldPreparer<CondaSpec>(EnvFields.Conda)
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromHours(1);
    private static readonly string[] s_tools = ["micromamba", "mamba", "conda"];
    private readonly ConcurrentDictionary<string, Lazy<Task<PythonEnvironment>>> _created = new(StringComparer.Ordinal);

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
            return Activate(environment, given);
        }

        var specJson = CanonicalJson(spec);
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(specJson)))[..32].ToLowerInvariant();
        var created = await SharedBuilds.Once(_created, key, () => CreateAsync(Path.Combine(options.CacheDirectory, "conda", key), specJson), created => Directory.Exists(created.Prefix)).WaitAsync(ct).ConfigureAwait(false);
        return Activate(created, created.Prefix);
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

    private async Task<string> FindByNameAsync(string name, CancellationToken ct)
    {
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

    private async Task<PythonEnvironment> CreateAsync(string prefix, string spec)
    {
        var tool = Tool("create a conda environment from a spec");
        using var timeout = new CancellationTokenSource(BuildTimeout);
        await CacheFolder.EnsureBuiltAsync(prefix, Name, async ct =>
        {
            NodeLog.CreatingCondaEnv(logger, prefix, tool);
            // JSON is YAML: the spec is the environment.yml the tool reads.
            var file = prefix + ".yml";
            await File.WriteAllTextAsync(file, spec, ct).ConfigureAwait(false);
            string[] arguments = Path.GetFileName(tool) == "micromamba"
                ? ["create", "--yes", "--prefix", prefix, "--file", file]
                : ["env", "create", "--prefix", prefix, "--file", file];
            var (exitCode, output, errors) = await CommandRunner.RunAsync(tool, arguments, options.CacheDirectory, ct).ConfigureAwait(false);
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
