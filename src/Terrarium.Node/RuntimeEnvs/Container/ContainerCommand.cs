using System.Diagnostics;

namespace Terrarium.Node.RuntimeEnvs.Container;

/// <summary>Runs the node's container runtime (podman) with its global options.</summary>
internal sealed class ContainerCommand(NodeOptions options)
{
    public string Command => options.Containers.Command;

    /// <summary>The start of every call: the command's global options, then <paramref name="subcommand"/>.</summary>
    public ProcessStartInfo StartInfo(params string[] subcommand)
    {
        var start = new ProcessStartInfo(Command);
        foreach (var option in options.Containers.GlobalOptions.Concat(subcommand))
        {
            start.ArgumentList.Add(option);
        }

        return start;
    }

    /// <summary>Runs to completion; a runtime that cannot start is reported like a failed call (exit code -1).</summary>
    public Task<(int ExitCode, string Output, string Errors)> RunAsync(ProcessStartInfo start, CancellationToken ct) => CommandRunner.RunAsync(start, ct);

    public Task<(int ExitCode, string Output, string Errors)> RunAsync(CancellationToken ct, params string[] subcommand) =>
        RunAsync(StartInfo(subcommand), ct);
}
