using System.CommandLine;
using System.Diagnostics;
using Mono.Unix.Native;
using Terrarium.Protocol.LocalFiles;

namespace Terrarium.Cli;

/// <summary><c>terrarium stop</c>: ends this user's daemons on this machine — nodes first, then the head.</summary>
internal static class StopCommand
{
    public static Command Create()
    {
        var grace = new Option<double>("--grace")
        {
            Description = "Seconds each daemon gets to stop its workers after SIGTERM, before it is killed",
            DefaultValueFactory = _ => 15,
        };
        var command = new Command("stop", "Stop the heads and nodes this user started on this machine, and their workers") { grace };
        command.SetAction((parse, ct) => UserError.Report(async () =>
        {
            var seconds = parse.GetValue(grace);
            if (seconds < 0 || !double.IsFinite(seconds))
            {
                throw new UserError($"--grace {seconds} must be zero or more seconds");
            }

            var daemons = DaemonRecord.FindLive().OrderBy(d => d.Role == "head" ? 1 : 0).ToList();
            if (daemons.Count == 0)
            {
                Console.Out.WriteLine("no Terrarium head or node of this user runs on this machine");
                return 0;
            }

            foreach (var daemon in daemons)
            {
                var how = await StopAsync(daemon.Pid, TimeSpan.FromSeconds(seconds), ct).ConfigureAwait(false);
                Console.Out.WriteLine($"stopped the {daemon.Role} (node {daemon.NodeId}, pid {daemon.Pid}){how}");
            }

            return 0;
        }));
        return command;
    }

    /// <summary>SIGTERM, then SIGKILL of the whole process tree if it outlives the grace period.</summary>
    private static async Task<string> StopAsync(int pid, TimeSpan grace, CancellationToken ct)
    {
        Process process;
        try
        {
            process = Process.GetProcessById(pid);
        }
        catch (ArgumentException)
        {
            return ", which had exited already";
        }

        using (process)
        {
            Syscall.kill(pid, Signum.SIGTERM);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(grace);
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                return "";
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(ct).ConfigureAwait(false);
                return $", killed after {grace.TotalSeconds:0} s";
            }
        }
    }
}
