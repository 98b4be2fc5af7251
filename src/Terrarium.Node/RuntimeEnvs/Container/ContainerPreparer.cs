using Microsoft.Extensions.Logging;
using Terrarium.Node.Objects;
using Terrarium.Node.Service;
using Terrarium.Protocol.RuntimeEnvs.Fields;

namespace Terrarium.Node.RuntimeEnvs.Container;

/// <summary>
/// <c>container</c>: the worker runs inside an image with the node's container runtime. The image
/// needs only a C library: the node's .NET runtime, the worker host and the job's code are mounted in.
/// </summary>
internal sealed class ContainerPreparer : FieldPreparer<ContainerSpec>
{
    /// <summary>Set for workers of images without ICU, which .NET otherwise refuses to start in.</summary>
    public const string InvariantGlobalization = "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT";

    private static readonly TimeSpan PullTimeout = TimeSpan.FromMinutes(30);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Images known to be present: each is pulled once per node, however many envs use it.</summary>
    private readonly SharedBuilds<bool> _present = new();

    /// <summary>
    /// Launchers by image and run options, probed once: envs that differ only in other fields start
    /// their workers in the same, already checked, image.
    /// </summary>
    private readonly SharedBuilds<ContainerLauncher> _launchers = new();

    private readonly NodeOptions _options;
    private readonly ContainerCommand _runtime;
    private readonly PulledImages _images;
    private readonly ILogger<ContainerPreparer> _logger;
    private readonly ObjectStore? _objects;

    public ContainerPreparer(NodeOptions options, ContainerCommand runtime, PulledImages images, ILogger<ContainerPreparer> logger, ObjectStore? objects = null)
        : base(EnvFields.Container)
    {
        (_options, _runtime, _images, _logger, _objects) = (options, runtime, images, logger, objects);
        // An image the cache collector removes is pulled (and probed) again when an env needs it.
        images.Removing += image =>
        {
            _present.Forget(image);
            foreach (var key in _launchers.Keys.Where(k => k == image || k.StartsWith(image + "\0", StringComparison.Ordinal)).ToList())
            {
                _launchers.Forget(key);
            }
        };
    }

    public override bool SetsLauncher => true;

    protected override async Task<FieldSetup> PrepareAsync(ContainerSpec spec, IWorkerLauncher? launcher, CancellationToken ct)
    {
        var (image, runOptions) = (spec.Image, spec.RunOptions);
        if (!ContainerRunOptions.IsImageReference(image))
        {
            throw new RuntimeEnvSetupFailure(Name, $"'{image}' is not an image reference", "");
        }

        if ((ContainerRuntimeOptions.RefusalOf(runOptions) ?? _options.Containers.PolicyRefusal(runOptions, _options.NodeId)) is { } refusal)
        {
            throw new RuntimeEnvSetupFailure(Name, refusal, "");
        }

        var key = string.Join('\0', runOptions.Prepend(image));
        var inImage = await _launchers.GetAsync(key, abandoned => LauncherAsync(image, runOptions, abandoned), ct).ConfigureAwait(false);
        return new FieldSetup { Launcher = inImage, CachedFolders = _images.FolderOf(image) is { } record ? [record] : [] };
    }

    private async Task<ContainerLauncher> LauncherAsync(string image, IReadOnlyList<string> runOptions, CancellationToken abandoned)
    {
        await _present.GetAsync(image, pullAbandoned => PullIfMissingAsync(image, pullAbandoned), abandoned).ConfigureAwait(false);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(abandoned);
        timeout.CancelAfter(ProbeTimeout);
        var launcher = new ContainerLauncher(_options, _runtime, image, [.. _options.Containers.DefaultRunOptions, .. runOptions]) { Store = _objects?.Shared };
        var probe = $"terrarium-probe-{Guid.NewGuid():N}";
        try
        {
            (launcher.ImageId, launcher.ImagePath, launcher.ImageLibraryPath) = await InspectAsync(image, timeout.Token).ConfigureAwait(false);
            var log = await ProbeAsync(launcher, probe, timeout.Token).ConfigureAwait(false);
            NodeLog.ContainerReady(_logger, image, log);
            return launcher;
        }
        catch (OperationCanceledException)
        {
            // Killing podman's client leaves its container running.
            using var removal = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _runtime.RunAsync(removal.Token, "rm", "--force", "--ignore", "--time", "0", probe).ConfigureAwait(false);
            abandoned.ThrowIfCancellationRequested();
            throw new RuntimeEnvSetupFailure(Name, $"starting the worker host in image '{image}' took longer than {ProbeTimeout.TotalMinutes:0} minutes", "");
        }
    }

    /// <summary>
    /// Whether the image had to be pulled; it is on this node once this completes.
    /// <paramref name="abandoned"/> fires when no env's setup waits for the pull any more.
    /// </summary>
    private async Task<bool> PullIfMissingAsync(string image, CancellationToken abandoned)
    {
        if ((await _runtime.RunAsync(abandoned, "image", "exists", image).ConfigureAwait(false)).ExitCode == 0)
        {
            return false;
        }

        NodeLog.PullingImage(_logger, image);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(abandoned);
        timeout.CancelAfter(PullTimeout);
        try
        {
            var (exitCode, output, errors) = await _runtime.RunAsync(timeout.Token, "pull", "-q", image).ConfigureAwait(false);
            if (exitCode != 0)
            {
                throw new RuntimeEnvSetupFailure(Name, $"could not pull image '{image}' with {_runtime.Command}: {Reason(errors)}", $"{output}\n{errors}".Trim());
            }

            // This node brought it: the cache collector may remove it once no env uses it.
            // Not cancelled with the pull: the image is here now, and one not recorded would never be collected.
            using var recording = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await _images.RecordAsync(image, recording.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (!abandoned.IsCancellationRequested)
        {
            throw new RuntimeEnvSetupFailure(Name, $"pulling image '{image}' took longer than {PullTimeout.TotalMinutes:0} minutes", "");
        }
    }


    /// <summary>
    /// The image's id (what it is, whatever its tag), its own <c>PATH</c>, which entries of other
    /// fields (a venv's bin) go ahead of, and its <c>LD_LIBRARY_PATH</c> (null when it sets none),
    /// which a worker lent the node's OpenSSL puts back.
    /// </summary>
    private async Task<(string Id, string Path, string? LibraryPath)> InspectAsync(string image, CancellationToken ct)
    {
        var (_, output, _) = await _runtime.RunAsync(ct, "image", "inspect", "--format", "{{.Id}}{{println}}{{range .Config.Env}}{{println .}}{{end}}", image).ConfigureAwait(false);
        var lines = output.Split('\n', StringSplitOptions.TrimEntries);
        return (lines[0],
            lines.FirstOrDefault(l => l.StartsWith("PATH=", StringComparison.Ordinal))?[5..] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            lines.FirstOrDefault(l => l.StartsWith("LD_LIBRARY_PATH=", StringComparison.Ordinal))?["LD_LIBRARY_PATH=".Length..]);
    }

    /// <summary>
    /// Starts the worker host once in the image — the runtime, culture data, OpenSSL: all a worker
    /// loads — so that an image that cannot run it fails the env's setup with the reason rather than
    /// every worker with a crash. What the image lacks that the node can stand in for, it does: an
    /// image without ICU runs its workers with invariant globalization, as .NET does when told; one
    /// without OpenSSL gets the node's (see <see cref="ContainerLauncher.OpenSslFromNode"/>).
    /// </summary>
    private async Task<string> ProbeAsync(ContainerLauncher launcher, string name, CancellationToken ct)
    {
        bool invariant = false, openSsl = false;
        var attempts = new List<string>();
        int exitCode;
        string output, errors;
        while (true)
        {
            (exitCode, output, errors) = await _runtime.RunAsync(launcher.ProbeCommand(name, invariant, openSsl), ct).ConfigureAwait(false);
            attempts.Add($"$ probe (invariant globalization: {invariant}, the node's OpenSSL: {openSsl}): exit code {exitCode}\n{output}\n{errors}".Trim());
            var said = $"{output}{errors}";
            if (exitCode != 0 && !invariant && said.Contains("ICU", StringComparison.Ordinal))
            {
                invariant = true;
            }
            else if (exitCode != 0 && !openSsl && LacksOpenSsl(said) && NodeOpenSsl.Files.Count > 0)
            {
                openSsl = true;
            }
            else
            {
                break;
            }
        }

        launcher.InvariantGlobalization = exitCode == 0 && invariant;
        launcher.OpenSslFromNode = exitCode == 0 && openSsl;
        var log = string.Join("\n\n", attempts);
        if (exitCode != 0 && LacksOpenSsl($"{output}{errors}"))
        {
            throw new RuntimeEnvSetupFailure(Name,
                $"image '{launcher.Image}' cannot run the Terrarium worker: it has no usable OpenSSL (libssl), " +
                (openSsl ? "and the node's could not be used in it" : "and this node has none to lend it") + $": {Reason(errors.Length > 0 ? errors : output)}", log);
        }

        // podman exits with 126 too when the OCI runtime (runc, crun) fails to create the container:
        // rlimits, cgroups, devices. That is podman's failure, not the image's.
        var runtimeFailed = errors.Contains("OCI ", StringComparison.Ordinal) && !errors.Contains("executable file not found", StringComparison.Ordinal);
        // The kernel cannot execute the runtime when the image lacks the loader and C library it links to.
        var notExecutable = exitCode is 126 or 127 || (errors.Contains("exec ", StringComparison.Ordinal) && errors.Contains("no such file or directory", StringComparison.Ordinal));
        return exitCode switch
        {
            0 => output,
            _ when runtimeFailed => throw new RuntimeEnvSetupFailure(Name, $"{_runtime.Command} could not run image '{launcher.Image}': {Reason(errors)}", log),
            _ when notExecutable => throw new RuntimeEnvSetupFailure(Name,
                $"image '{launcher.Image}' cannot run the Terrarium worker: the node's .NET runtime could not be executed in it " +
                $"(it needs the GNU C library, glibc, and the C++ runtime, libstdc++): {Reason(errors)}", log),
            // podman's own failure: a bad run option, storage, the image's configuration.
            125 => throw new RuntimeEnvSetupFailure(Name, $"{_runtime.Command} could not run image '{launcher.Image}': {Reason(errors)}", log),
            _ => throw new RuntimeEnvSetupFailure(Name,
                $"the Terrarium worker could not start in image '{launcher.Image}' (exit code {exitCode}): {Reason(errors.Length > 0 ? errors : output)}", log),
        };
    }

    private static bool LacksOpenSsl(string said) =>
        said.Contains("libssl", StringComparison.Ordinal) || said.Contains("OpenSSL", StringComparison.Ordinal);

    /// <summary>podman's "Error: ..." line, else the last line of what it wrote.</summary>
    private static string Reason(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.FirstOrDefault(l => l.StartsWith("Error: ", StringComparison.Ordinal))?["Error: ".Length..] ?? lines.LastOrDefault() ?? "no output";
    }
}
