using System.Diagnostics;
using System.Text;

namespace Terrarium.Node.RuntimeEnvs;

/// <summary>
/// Runs a command the node needs (podman, python, pip, conda, dotnet restore) to completion,
/// capturing its output; during an env's setup, each line also goes to the env's
/// <see cref="SetupLog"/> as the command prints it.
/// </summary>
internal static class CommandRunner
{
    /// <summary>
    /// The exit code and output; a command that cannot start is reported like a failed one (exit code
    /// -1). <paramref name="logged"/> false keeps its output out of the setup log (it prints secrets:
    /// environment values).
    /// </summary>
    /// <exception cref="OperationCanceledException">Cancelled; the command and its children were killed.</exception>
    public static async Task<(int ExitCode, string Output, string Errors)> RunAsync(ProcessStartInfo start, CancellationToken ct, bool logged = true)
    {
        start.UseShellExecute = false;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("Process.Start returned null");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return (-1, "", $"'{start.FileName}' could not be started: {e.Message}");
        }

        using (process)
        {
            var log = logged ? SetupLog.Current : null;
            var output = ReadLinesAsync(process.StandardOutput, log);
            var errors = ReadLinesAsync(process.StandardError, log);
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

    private static async Task<string> ReadLinesAsync(StreamReader reader, SetupLog? log)
    {
        var text = new StringBuilder();
        while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            text.Append(line).Append('\n');
            log?.Output(line);
        }

        return text.ToString();
    }

    public static Task<(int ExitCode, string Output, string Errors)> RunAsync(string command, IEnumerable<string> arguments, CancellationToken ct) =>
        RunAsync(new ProcessStartInfo(command, arguments), ct);

    /// <summary>As <see cref="RunAsync(string, IEnumerable{string}, CancellationToken)"/>, in <paramref name="workingDirectory"/>.</summary>
    public static Task<(int ExitCode, string Output, string Errors)> RunAsync(string command, IEnumerable<string> arguments, string workingDirectory, CancellationToken ct) =>
        RunAsync(new ProcessStartInfo(command, arguments) { WorkingDirectory = workingDirectory }, ct);
}
