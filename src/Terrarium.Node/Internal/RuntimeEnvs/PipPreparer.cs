using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Terrarium.Node.Internal.RuntimeEnvs;

/// <summary>
/// <c>pip</c>: a virtual environment per distinct spec, made with the node's Python and pip, kept in
/// the node's cache and shared by every env with the same <c>pip</c> field. A build that fails leaves
/// no venv behind.
/// </summary>
internal sealed class PipPreparer(NodeOptions options, ILogger<PipPreparer> logger) : IFieldPreparer
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromHours(1);
    private readonly ConcurrentDictionary<string, Lazy<Task<PythonEnvironment>>> _venvs = new(StringComparer.Ordinal);

    public string Name => "pip";

    public async Task<FieldSetup> PrepareAsync(JsonElement value, CancellationToken ct)
    {
        var spec = Read(value);
        // The field's canonical JSON names the venv: the same spec, the same venv, whatever else the env has.
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(value.GetRawText())))[..32].ToLowerInvariant();
        var venv = await SharedBuilds.Once(_venvs, key, () => BuildAsync(Path.Combine(options.CacheDirectory, "pip", key), spec)).WaitAsync(ct).ConfigureAwait(false);
        return venv.Setup(new Dictionary<string, string> { ["VIRTUAL_ENV"] = venv.Prefix });
    }

    private sealed record Spec(IReadOnlyList<string> Packages, IReadOnlyList<string> InstallOptions, bool Check, string? PipVersion);

    private Spec Read(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Array)
        {
            return new Spec(Strings(value, "pip"), [], false, null);
        }

        if (Json.Object(value, Name).TryGetProperty("requirements_file", out _))
        {
            throw new RuntimeEnvSetupFailure(Name, "runtime_env.pip.requirements_file reached the node: the driver reads the file into 'packages' when the task is submitted", "");
        }

        return new Spec(
            value.TryGetProperty("packages", out var packages) ? Strings(packages, "pip.packages") : [],
            value.TryGetProperty("install_options", out var installOptions) ? Strings(installOptions, "pip.install_options") : [],
            value.TryGetProperty("pip_check", out var check) && check.ValueKind == JsonValueKind.True,
            value.TryGetProperty("pip_version", out var version) ? Json.String(version, "pip.pip_version") : null);
    }

    private static string[] Strings(JsonElement list, string field) =>
        Json.Array(list, field).EnumerateArray().Select(item => Json.String(item, field)).ToArray();

    private async Task<PythonEnvironment> BuildAsync(string venv, Spec spec)
    {
        using var timeout = new CancellationTokenSource(BuildTimeout);
        await CacheFolder.EnsureBuiltAsync(venv, Name, async ct =>
        {
            NodeLog.CreatingVenv(logger, venv, string.Join(' ', spec.Packages));
            var log = new StringBuilder();
            await StepAsync(log, options.Python.Interpreter, ["-m", "venv", venv], ct,
                e => $"could not create a virtual environment with '{options.Python.Interpreter}' (on Debian and Ubuntu: apt-get install python3-venv): {e}").ConfigureAwait(false);
            var python = Path.Combine(venv, "bin", "python");
            if (spec.PipVersion is { } version)
            {
                var requirement = "pip" + (char.IsAsciiDigit(version[0]) ? "==" + version : version);
                await StepAsync(log, python, ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", requirement, .. spec.InstallOptions], ct,
                    e => $"could not install {requirement}: {e}").ConfigureAwait(false);
            }

            var requirements = Path.Combine(venv, "requirements.txt");
            await File.WriteAllLinesAsync(requirements, spec.Packages, ct).ConfigureAwait(false);
            await StepAsync(log, python, ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-r", requirements, .. spec.InstallOptions], ct,
                e => $"pip could not install {string.Join(", ", spec.Packages)}: {e}").ConfigureAwait(false);
            if (spec.Check)
            {
                await StepAsync(log, python, ["-m", "pip", "check"], ct, e => $"pip check found broken requirements: {e}").ConfigureAwait(false);
            }

            return log.ToString();
        }, timeout.Token).ConfigureAwait(false);
        return await PythonEnvironment.DescribeAsync(venv, Name, timeout.Token).ConfigureAwait(false);
    }

    /// <summary>Runs one step of the build; its output goes to the setup log, its failure names what failed.</summary>
    private async Task StepAsync(StringBuilder log, string command, string[] arguments, CancellationToken ct, Func<string, string> failure)
    {
        log.AppendLine($"$ {command} {string.Join(' ', arguments)}");
        var (exitCode, output, errors) = await CommandRunner.RunAsync(command, arguments, ct).ConfigureAwait(false);
        log.AppendLine(output).AppendLine(errors);
        if (exitCode != 0)
        {
            throw new RuntimeEnvSetupFailure(Name, failure(Reason(errors.Length > 0 ? errors : output)), log.ToString());
        }
    }

    /// <summary>pip's "ERROR: ..." lines, else the last line it wrote.</summary>
    private static string Reason(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var errors = lines.Where(l => l.StartsWith("ERROR: ", StringComparison.Ordinal)).ToList();
        return errors.Count > 0 ? string.Join(" ", errors) : lines.LastOrDefault() ?? "no output";
    }
}
