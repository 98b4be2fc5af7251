using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Terrarium.IntegrationTests;

/// <summary>
/// The job env's eager install: every live node builds it when the job starts, before any task, and
/// a node that joins later as soon as the driver hears of it; with <c>eager_install</c> false a node
/// builds it only when work needs it.
/// </summary>
public sealed class EagerInstallTests : IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("terrarium-eager-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [SkippableFact]
    public async Task JobEnv_IsBuiltOnEveryNodeBeforeAnyTask_AndOnANodeThatJoinsLater()
    {
        var job = Directory.CreateDirectory(Path.Combine(_scratch, "job")).FullName;
        await File.WriteAllTextAsync(Path.Combine(job, "hello.txt"), "eager");
        await using var cluster = await CliCluster.StartAsync("{}", [], ["{}"]);
        await using var driver = await Cluster.InitAsync(new ClusterOptions
        {
            Address = cluster.HeadAddress, Token = CliCluster.Token, CaHash = cluster.CaHash, LogToDriver = false,
            Job = new JobConfig { RuntimeEnv = new RuntimeEnv { WorkingDir = job, EnvVars = new Dictionary<string, string> { ["MODE"] = "eager" } } },
        }).DefaultTimeout();

        var hash = await OneReadyEnvOnEachAsync(driver, nodes: 2, "each node to build the job env before any task");
        Assert.All((await driver.GetStatusAsync().DefaultTimeout()).Nodes, n => Assert.Equal(["env_vars", "working_dir"], n.RuntimeEnvs.Single().Fields));
        // As `terrarium env list` shows it.
        var listed = await cluster.RunAsync("env", "list", "--json");
        Assert.True(listed.ExitCode == 0, listed.Stderr);
        var envs = System.Text.Json.JsonDocument.Parse(listed.Stdout).RootElement.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("envs").EnumerateArray().Single()).ToList();
        Assert.Equal(2, envs.Count);
        Assert.All(envs, e => Assert.Equal((hash, "ready", 0, "env_vars,working_dir"),
            (e.GetProperty("hash").GetString(), e.GetProperty("state").GetString(), e.GetProperty("workers").GetInt32(), string.Join(",", e.GetProperty("fields").EnumerateArray().Select(f => f.GetString())))));

        await cluster.AddNodeAsync("{}");
        Assert.Equal(hash, await OneReadyEnvOnEachAsync(driver, nodes: 3, "the node that joined to build the job env"));

        // The work then runs in the env built ahead: no node builds another.
        Assert.Equal("eager", await driver.Submit(() => FileTasks.Read("hello.txt")).DefaultTimeout());
        Assert.All((await driver.GetStatusAsync().DefaultTimeout()).Nodes, n => Assert.Equal(hash, n.RuntimeEnvs.Single().Hash));
    }

    [SkippableFact]
    public async Task JobEnv_WithEagerInstallOff_IsBuiltOnlyWhenWorkNeedsIt()
    {
        var jobEnv = new RuntimeEnv
        {
            EnvVars = new Dictionary<string, string> { ["MODE"] = "lazy" },
            Config = new RuntimeEnvConfig { EagerInstall = false },
        };
        using var logs = new FakeLoggerProvider();
        using var loggers = LoggerFactory.Create(builder => builder.AddProvider(logs));
        await using var driver = await Cluster.InitAsync(new ClusterOptions { NumCpus = 1, LogToDriver = false, Job = new JobConfig { RuntimeEnv = jobEnv }, LoggerFactory = loggers })
            .DefaultTimeout();

        // A task in an env of its own goes first; an eager build of the job env would have been asked for before it.
        var own = new TaskOptions { RuntimeEnv = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["OTHER"] = "1" } } };
        Assert.Equal(4, await driver.Submit(() => TestTasks.Square(2), own).DefaultTimeout());
        Assert.DoesNotContain(logs.Collector.GetSnapshot(), r => r.Message.Contains("eager_install", StringComparison.Ordinal));

        Assert.Single((await driver.GetStatusAsync().DefaultTimeout()).Nodes.Single().RuntimeEnvs);

        Assert.Equal(9, await driver.Submit(() => TestTasks.Square(3)).DefaultTimeout());
        Assert.Equal(2, (await driver.GetStatusAsync().DefaultTimeout()).Nodes.Single().RuntimeEnvs.Count);

        // eager_install on a task's env does nothing: the driver says so.
        var saysEager = new TaskOptions { RuntimeEnv = own.RuntimeEnv with { Config = new RuntimeEnvConfig { EagerInstall = false } } };
        Assert.Equal(16, await driver.Submit(() => TestTasks.Square(4), saysEager).DefaultTimeout());
        Assert.Contains(logs.Collector.GetSnapshot(), r => r.Level == LogLevel.Warning
            && r.Message == "options.RuntimeEnv: config.eager_install has no effect on a task's or actor's env, which is built where the work runs; set it on the job's env (ClusterOptions.Job)");
    }

    /// <summary>Waits until each of <paramref name="nodes"/> live nodes has built one env, the same, with no worker in it yet: its hash.</summary>
    private static async Task<string> OneReadyEnvOnEachAsync(Cluster driver, int nodes, string what)
    {
        string? hash = null;
        await TestWaits.UntilAsync(async () =>
        {
            var status = await driver.GetStatusAsync();
            var envs = status.Nodes.Where(n => n.Alive).Select(n => n.RuntimeEnvs).ToList();
            if (envs.Count != nodes || envs.Any(e => e is not [{ State: "ready", Workers: 0 }]) || envs.Select(e => e[0].Hash).Distinct().Count() != 1)
            {
                return false;
            }

            hash = envs[0][0].Hash;
            return true;
        }, what);
        return hash!;
    }
}
