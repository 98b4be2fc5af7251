using System.Diagnostics;
using System.Globalization;
using Terrarium.Protocol.LocalFiles;

namespace Terrarium.Cli;

/// <summary>
/// <c>terrarium start</c> without <c>--block</c>: runs the same command with <c>--block</c> as a
/// daemon in a session of its own (so the terminal's Ctrl+C and hang-up do not reach it), output to a
/// log file, and returns once it serves — or reports why it did not.
/// </summary>
internal static class BackgroundDaemon
{
    /// <summary>Tells the daemon where its output goes, for its record.</summary>
    public const string LogFileVariable = "TERRARIUM_DAEMON_LOG";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    public static async Task<int> StartAsync(IReadOnlyList<string> arguments, StartSettings settings, CancellationToken ct)
    {
        var logs = PrivateDirectory.Create(Path.Combine(PrivateDirectory.ForRuntime(), "logs"));
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss-fff", CultureInfo.InvariantCulture);
        var name = $"{(settings.IsHead ? "head" : "node")}-{stamp}-{Environment.ProcessId}";
        var logFile = Path.Combine(logs, name + ".log");
        var readyFile = Path.Combine(logs, name + ".ready");
        // Made here, owner-only, before the shell appends to it: a log may name paths, nodes and users' errors.
        var logOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            logOptions.UnixCreateMode = PrivateDirectory.OwnerReadWrite;
        }

        new FileStream(logFile, logOptions).Dispose();

        var start = new ProcessStartInfo("setsid") { UseShellExecute = false };
        // sh redirects the daemon's output to its log and detaches its stdin; exec keeps the pid.
        start.ArgumentList.Add("sh");
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"exec \"$@\" >>\"${LogFileVariable}\" 2>&1 </dev/null");
        start.ArgumentList.Add("sh");
        foreach (var part in SelfCommand())
        {
            start.ArgumentList.Add(part);
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add("--block");
        start.ArgumentList.Add("--ready-file");
        start.ArgumentList.Add(readyFile);
        start.Environment[LogFileVariable] = logFile;

        using var process = Process.Start(start) ?? throw new UserError("could not start the daemon process");
        var deadline = DateTime.UtcNow + StartTimeout;
        while (!File.Exists(readyFile))
        {
            if (process.HasExited)
            {
                var output = File.Exists(logFile) ? (await File.ReadAllTextAsync(logFile, ct).ConfigureAwait(false)).Trim() : "";
                Console.Error.WriteLine(output.Length > 0 ? output : $"terrarium: the daemon exited with code {process.ExitCode} before it served");
                return 1;
            }

            if (DateTime.UtcNow > deadline)
            {
                process.Kill(entireProcessTree: true);
                throw new UserError($"the daemon did not start serving within {StartTimeout.TotalSeconds:0} s; its log: {logFile}");
            }

            await Task.Delay(50, ct).ConfigureAwait(false);
        }

        Console.Out.Write(await File.ReadAllTextAsync(readyFile, ct).ConfigureAwait(false));
        Console.Out.WriteLine($"  Running in the background: pid {process.Id}, log {logFile}");
        File.Delete(readyFile);
        return 0;
    }

    /// <summary>How to run this program again: the tool's own executable, or <c>dotnet terrarium.dll</c>.</summary>
    private static IEnumerable<string> SelfCommand()
    {
        var executable = Environment.ProcessPath ?? throw new UserError("cannot tell which program this is, to start the daemon");
        yield return executable;
        if (Path.GetFileNameWithoutExtension(executable) == "dotnet")
        {
            yield return typeof(BackgroundDaemon).Assembly.Location;
        }
    }
}
