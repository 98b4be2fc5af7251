using System.Diagnostics;

namespace Terrarium.Node.Internal.RuntimeEnvs;

/// <summary>Runs the node's container runtime (podman) with its global options.</summary>
internal sealed class ContainerCommand(NodeOptions options)
{
    public string Command => options.Containers.Command;

    /// <summary>The start of every call: the command's global options, then <paramref name="subcommand"/>.</summary>
    public ProcessStartInfo StartInfo(params string[] subcommand)
    {
        var start = new ProcessStartInfo(Command) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var option in options.Containers.GlobalOptions.Concat(subcommand))
        {
            start.ArgumentList.Add(option);
        }

        return start;
    }

    /// <summary>Runs to completion; a runtime that cannot start is reported like a failed call (exit code -1).</summary>
    public async Task<(int ExitCode, string Output, string Errors)> RunAsync(ProcessStartInfo start, CancellationToken ct)
    {
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("Process.Start returned null");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return (-1, "", $"the container runtime '{Command}' could not be started: {e.Message}");
        }

        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var errors = process.StandardError.ReadToEndAsync(CancellationToken.None);
            try
            {
                await process.WaitForExitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw;
            }

            return (process.ExitCode, (await output.ConfigureAwait(false)).Trim(), (await errors.ConfigureAwait(false)).Trim());
        }
    }

    public Task<(int ExitCode, string Output, string Errors)> RunAsync(CancellationToken ct, params string[] subcommand) =>
        RunAsync(StartInfo(subcommand), ct);
}
