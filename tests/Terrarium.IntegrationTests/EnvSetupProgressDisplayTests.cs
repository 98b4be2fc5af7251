using System.Diagnostics;

namespace Terrarium.IntegrationTests;

/// <summary>
/// A driver's envs set up before its eyes: on a terminal (a real pseudo-terminal, from
/// <c>script</c>), standard error shows each step live and keeps its line once done; redirected, it
/// shows nothing, and the program's own output is the same either way.
/// </summary>
public sealed class EnvSetupProgressDisplayTests : IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("terrarium-progress-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [SkippableFact]
    public async Task OnATerminal_EachStepIsShownLive_AndKept_RedirectedNothingIsShown()
    {
        Requirements.Tool("script", "util-linux's script gives the driver a pseudo-terminal");
        await using var cluster = await StandaloneCluster.StartAsync();

        var onTerminal = await RunDriverAsync(cluster, WorkingDir("shown"), throughTerminal: true);
        var redirected = await RunDriverAsync(cluster, WorkingDir("quiet"), throughTerminal: false);

        Assert.Contains("shown", onTerminal.Stdout, StringComparison.Ordinal);
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(onTerminal.Stdout, @"env [0-9a-f]{12} on [^:]+: working_dir.*done in \d+\.\d\d s"), onTerminal.Stdout.Replace("\x1b", "ESC"));
        Assert.Equal("quiet", redirected.Stdout.Trim());
        Assert.DoesNotContain("working_dir", redirected.Stderr, StringComparison.Ordinal);
    }

    private string WorkingDir(string name)
    {
        var folder = Directory.CreateDirectory(Path.Combine(_scratch, name)).FullName;
        File.WriteAllText(Path.Combine(folder, "name.txt"), name);
        return folder;
    }

    /// <summary>SecondDriver running a task in <paramref name="workingDir"/>; through <c>script</c>, its output is the terminal's, both streams in one.</summary>
    private static async Task<(string Stdout, string Stderr)> RunDriverAsync(StandaloneCluster cluster, string workingDir, bool throughTerminal)
    {
        string[] driver = [Terrarium.Node.WorkerHostCommand.CurrentDotnet(), Path.Combine(AppContext.BaseDirectory, "SecondDriver.dll"),
            cluster.DriverOptions.Address!, StandaloneCluster.Token, "--setup", workingDir];
        var start = throughTerminal
            ? new ProcessStartInfo("script", ["--quiet", "--return", "--command", string.Join(' ', driver.Select(a => $"'{a.Replace("'", "'\\''", StringComparison.Ordinal)}'")), "/dev/null"])
            : new ProcessStartInfo(driver[0], driver[1..]);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        start.UseShellExecute = false;
        start.Environment["TERRARIUM_CA_HASH"] = cluster.DriverOptions.CaHash;
        start.Environment["TERM"] = "xterm-256color";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().DefaultTimeout();
        Assert.True(process.ExitCode == 0, await stderr + await stdout);
        return (await stdout, await stderr);
    }
}
