using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Terrarium.IntegrationTests;

/// <summary>
/// An env's setup as its user watches it, in a CLI cluster: the driver's logger hears each step
/// while it runs, the node's setup log has the tool's output as the tool prints it (<c>terrarium env
/// logs --follow</c>), and a setup that outlives its timeout fails naming the step and how to raise
/// the limit, its tool killed.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed partial class EnvSetupLogTests : IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("terrarium-setup-log-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [SkippableFact]
    public async Task ASetupThatHangs_IsWatchedStepByStep_AndFailsPastItsTimeoutNamingTheStep_ItsToolKilled()
    {
        var (tool, pidFile) = await HangingCondaAsync();
        await using var cluster = await CliCluster.StartAsync("{}", ["--conda-command", tool], []);
        using var logs = new FakeLoggerProvider();
        using var loggers = LoggerFactory.Create(builder => builder.AddProvider(logs));
        await using var driver = await Cluster.InitAsync(new ClusterOptions
        {
            Address = cluster.HeadAddress, Token = CliCluster.Token, CaHash = cluster.CaHash, LogToDriver = false, LoggerFactory = loggers,
        }).DefaultTimeout();
        var env = new RuntimeEnv { Conda = new CondaSpec { Environment = "analytics" }, Config = new RuntimeEnvConfig { SetupTimeoutSeconds = 20 } };

        var task = driver.Submit(() => TestTasks.Square(2), new TaskOptions { RuntimeEnv = env });
        await TestWaits.UntilAsync(() => Messages(logs).Any(m => m.Contains("setting up conda", StringComparison.Ordinal)), "the driver's logger to hear the conda step start");
        Assert.False(task.IsReady, "the step is heard while it runs");
        var hash = StepLine().Match(Messages(logs).First(m => m.Contains("setting up conda", StringComparison.Ordinal))).Groups[1].Value;
        var followed = cluster.RunAsync("env", "logs", hash, "--follow");
        var error = await Assert.ThrowsAsync<RuntimeEnvSetupException>(() => task.DefaultTimeout());
        var (exitCode, stdout, stderr) = await followed;

        Assert.Equal("conda", error.Field);
        Assert.Contains("setting up 'conda' took longer than the env's setup_timeout_seconds (20)", error.Message, StringComparison.Ordinal);
        Assert.Contains("raise runtime_env.config.setup_timeout_seconds (-1 for no limit)", error.Message, StringComparison.Ordinal);
        Assert.Contains("collecting package metadata, for ever", error.SetupLog, StringComparison.Ordinal);
        Assert.Contains(Messages(logs), m => m.Contains($"Env {hash} on node", StringComparison.Ordinal) && m.Contains("conda failed after", StringComparison.Ordinal));
        // Followed to the end of the build: the tool's line as it printed it, then the failure.
        Assert.True(exitCode == 0, stderr);
        Assert.Matches(@"conda\s+started", stdout);
        Assert.Matches(@"conda\s+collecting package metadata, for ever", stdout);
        Assert.Matches(@"conda\s+failed after [0-9.]+ s: setting up 'conda' took longer", stdout);
        var pid = await PidAsync(pidFile);
        await TestWaits.UntilAsync(() => !IsRunning(pid), "the hanging tool to be killed");

        // Read again once it is over, and asked about what no node has.
        var again = await cluster.RunAsync("env", "logs", hash);
        Assert.Equal(stdout.Trim(), again.Stdout.Trim());
        var notHex = await cluster.RunAsync("env", "logs", "not-a-hash");
        Assert.Equal(1, notHex.ExitCode);
        Assert.Contains("'not-a-hash' is not an env hash", notHex.Stderr, StringComparison.Ordinal);
        var unknown = await cluster.RunAsync("env", "logs", hash.StartsWith('0') ? "1" : "0");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("no live node has a setup log of an env", unknown.Stderr, StringComparison.Ordinal);
        Assert.Equal(4, await driver.Submit(() => TestTasks.Square(2)).DefaultTimeout());
    }

    [SkippableFact]
    public async Task ABuildEnvsCouldShare_IsStoppedWhenTheLastSetupWaitingForItTimesOut_ItsToolKilled()
    {
        var (tool, pidFile) = await HangingCondaAsync();
        await using var cluster = await CliCluster.StartAsync("{}", ["--conda-command", tool], []);
        await using var driver = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout();
        // A conda env made from a spec is a build every env with that spec shares.
        var env = new RuntimeEnv { Conda = new CondaSpec { SpecJson = """{"dependencies": ["python=3.11"]}""" }, Config = new RuntimeEnvConfig { SetupTimeoutSeconds = 5 } };

        var error = await Assert.ThrowsAsync<RuntimeEnvSetupException>(() => driver.Submit(() => TestTasks.Square(2), new TaskOptions { RuntimeEnv = env }).DefaultTimeout());

        Assert.Contains("took longer than the env's setup_timeout_seconds (5)", error.Message, StringComparison.Ordinal);
        var pid = await PidAsync(pidFile);
        await TestWaits.UntilAsync(() => !IsRunning(pid), "the shared build's tool to be killed once no setup waits for it");
    }

    /// <summary>A conda tool that misbehaves on purpose: it writes its pid, says what it is doing, then never finishes.</summary>
    private async Task<(string Tool, string PidFile)> HangingCondaAsync()
    {
        var pidFile = Path.Combine(_scratch, "tool.pid");
        var tool = Path.Combine(_scratch, "conda");
        await File.WriteAllTextAsync(tool, $"#!/bin/sh\necho $$ > '{pidFile}'\necho 'collecting package metadata, for ever'\nexec sleep 600\n");
        File.SetUnixFileMode(tool, (UnixFileMode)0b111_101_101);
        return (tool, pidFile);
    }

    /// <summary>The pid the tool wrote, once it has written it whole.</summary>
    private static async Task<int> PidAsync(string pidFile)
    {
        var pid = 0;
        await TestWaits.UntilAsync(() => File.Exists(pidFile) && File.ReadAllText(pidFile).EndsWith('\n')
            && int.TryParse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture, out pid), "the tool to write its pid");
        return pid;
    }

    private static List<string> Messages(FakeLoggerProvider logs) => logs.Collector.GetSnapshot().Select(r => r.Message).ToList();

    private static bool IsRunning(int pid)
    {
        try
        {
            // A killed process the node has not reaped yet is a zombie: it runs nothing.
            return !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"Env ([0-9a-f]+) on node")]
    private static partial Regex StepLine();
}
