using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Terrarium.Node.RuntimeEnvs.Container;
using Terrarium.Node.Service;
using Terrarium.Protocol.RuntimeEnvs.Fields;

namespace Terrarium.Node.RuntimeEnvs.Pip;

/// <summary>
/// <c>pip</c>: a virtual environment per distinct spec, made with the node's Python and pip, kept in
/// the node's cache and shared by every env with the same <c>pip</c> field. A build that fails leaves
/// no venv behind.
/// </summary>
internal sealed class PipPreparer(NodeOptions options, ILogger<PipPreparer> logger) : FieldPreparer<PipSpec>(EnvFields.Pip)
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromHours(1);
    private readonly SharedBuilds<PythonEnvironment> _venvs = new();
    private readonly SharedBuilds<string> _interpreters = new();

    protected override async Task<FieldSetup> PrepareAsync(PipSpec spec, IWorkerLauncher? launcher, CancellationToken ct)
    {
        if (spec.RequirementsFile is not null)
        {
            throw new RuntimeEnvSetupFailure(Name, "runtime_env.pip.requirements_file reached the node: the driver reads the file into 'packages' when the task is submitted", "");
        }

        var container = launcher as ContainerLauncher;
        // The field's canonical JSON and the Python that builds it (the node's, by path and version,
        // or the image's) name the venv: the same spec, the same venv, whatever else the env has;
        // a node whose python3 changed builds anew.
        var python = container is null
            ? await _interpreters.GetAsync(options.Python.Interpreter, abandoned => InterpreterIdentityAsync(options.Python.Interpreter, abandoned), ct).ConfigureAwait(false)
            : container.Identity + "\0" + container.ImageId;
        var identity = CanonicalJson(spec) + "\0" + python;
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(identity)))[..32].ToLowerInvariant();
        var folder = Path.Combine(options.CacheDirectory, "pip", key);
        // In a container the venv is built with the image's Python, for the image, seeing only its own folder of the node's.
        var builder = container is null
            ? new Builder(options.Python.Interpreter, PythonEnvironment.OnNode(options.CacheDirectory, SetupLog.Current?.ToolEnvironment))
            : new Builder("python3", (command, token) => container.RunAsync(command, [folder], token));
        var venv = await _venvs.GetAsync(key, abandoned => BuildAsync(folder, spec, builder, abandoned), ct, venv => Directory.Exists(venv.Prefix)).ConfigureAwait(false);
        return venv.Setup(new Dictionary<string, string> { ["VIRTUAL_ENV"] = venv.Prefix });
    }

    /// <summary>The node's Python as a venv's name depends on it: its real path and its full version.</summary>
    private async Task<string> InterpreterIdentityAsync(string interpreter, CancellationToken abandoned)
    {
        var (exitCode, output, errors) = await CommandRunner.RunAsync(interpreter,
            ["-I", "-c", "import os, sys; print(os.path.realpath(sys.executable)); print(sys.version)"], options.CacheDirectory, abandoned).ConfigureAwait(false);
        return exitCode == 0
            ? output
            : throw new RuntimeEnvSetupFailure(Name, $"the node's Python ('{interpreter}') does not run: {(errors.Length > 0 ? errors : output).Split('\n').LastOrDefault()}" +
                " (set it with terrarium start --python, or NodeOptions.Python.Interpreter)", $"{output}\n{errors}");
    }

    /// <summary>The Python that makes the venv, and where commands run: on the node, or in the env's image.</summary>
    private sealed record Builder(string Interpreter, PythonEnvironment.Runner Run);

    /// <summary>Builds the venv; <paramref name="abandoned"/> fires when no env's setup waits for it any more, which stops the build and kills its tools.</summary>
    private async Task<PythonEnvironment> BuildAsync(string venv, PipSpec spec, Builder builder, CancellationToken abandoned)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(abandoned);
        timeout.CancelAfter(BuildTimeout);
        await CacheFolder.EnsureBuiltAsync(venv, Name, async ct =>
        {
            NodeLog.CreatingVenv(logger, venv, string.Join(' ', spec.Packages));
            // Made here, so that a build in a container writes into it (mounted) rather than into the container.
            Directory.CreateDirectory(venv);
            var log = new StringBuilder();
            // Every Python here runs isolated (-I): nothing is imported from the working directory or PYTHONPATH.
            await StepAsync(builder, log, [builder.Interpreter, "-I", "-m", "venv", venv], ct,
                e => NoVenvModule(log.ToString())
                    ? $"could not create a virtual environment with '{builder.Interpreter}': it has no venv or ensurepip module (on Debian and Ubuntu: apt-get install python3-venv)"
                    : $"could not create a virtual environment with '{builder.Interpreter}': {e}").ConfigureAwait(false);
            var python = Path.Combine(venv, "bin", "python");
            if (spec.PipVersion is { } version)
            {
                var requirement = "pip" + (char.IsAsciiDigit(version[0]) ? "==" + version : version);
                await StepAsync(builder, log, [python, "-I", "-m", "pip", "install", "--disable-pip-version-check", "--no-input", requirement, .. spec.InstallOptions], ct,
                    e => $"could not install {requirement}: {e}").ConfigureAwait(false);
            }

            var requirements = Path.Combine(venv, "requirements.txt");
            await File.WriteAllLinesAsync(requirements, spec.Packages, ct).ConfigureAwait(false);
            await StepAsync(builder, log, [python, "-I", "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-r", requirements, .. spec.InstallOptions], ct,
                e => $"pip could not install {string.Join(", ", spec.Packages)}: {e}").ConfigureAwait(false);
            if (spec.PipCheck)
            {
                await StepAsync(builder, log, [python, "-I", "-m", "pip", "check"], ct, e => $"pip check found broken requirements: {e}").ConfigureAwait(false);
            }

            return log.ToString();
        }, timeout.Token).ConfigureAwait(false);
        return await PythonEnvironment.DescribeAsync(venv, Name, builder.Run, timeout.Token).ConfigureAwait(false);
    }

    /// <summary>Runs one step of the build; its output goes to the setup log, its failure names what failed.</summary>
    private async Task StepAsync(Builder builder, StringBuilder log, string[] command, CancellationToken ct, Func<string, string> failure)
    {
        log.AppendLine($"$ {string.Join(' ', command)}");
        SetupLog.Current?.Output($"$ {string.Join(' ', command)}");
        var (exitCode, output, errors) = await builder.Run(command, ct).ConfigureAwait(false);
        log.AppendLine(output).AppendLine(errors);
        if (exitCode != 0)
        {
            throw new RuntimeEnvSetupFailure(Name, failure(Reason(errors.Length > 0 ? errors : output)), log.ToString());
        }
    }

    /// <summary>Whether Python said it lacks venv or ensurepip (Debian splits them out), not that something else failed (a full disk).</summary>
    private static bool NoVenvModule(string said) =>
        said.Contains("ensurepip is not available", StringComparison.Ordinal) || said.Contains("No module named venv", StringComparison.Ordinal);

    /// <summary>pip's "ERROR: ..." lines, else the last line it wrote.</summary>
    private static string Reason(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var errors = lines.Where(l => l.StartsWith("ERROR: ", StringComparison.Ordinal)).ToList();
        return errors.Count > 0 ? string.Join(" ", errors) : lines.LastOrDefault() ?? "no output";
    }
}
