namespace Terrarium.IntegrationTests;

/// <summary>
/// A conda environment named in a runtime env, on a node without any conda tool: found where the
/// node's user's <c>.condarc</c> keeps environments (a real conda layout: <c>conda-meta</c>, a Python,
/// <c>etc/conda/activate.d</c>), activated with its hooks; a name found nowhere fails saying where it looked.
/// </summary>
public sealed class CondaByNameTests : IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("terrarium-conda-name-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [SkippableFact]
    public async Task ANamedEnvironment_IsFoundThroughTheCondarc_WithoutAnyCondaTool_AndItsActivationHooksReachTheWorker()
    {
        PythonWheels.RequireVenv();
        var home = Directory.CreateDirectory(Path.Combine(_scratch, "home")).FullName;
        var envs = Path.Combine(_scratch, "conda-envs");
        var prefix = Path.Combine(envs, "analytics");
        await PodmanImages.RunAsync("python3", "-m", "venv", prefix);
        Directory.CreateDirectory(Path.Combine(prefix, "conda-meta"));
        var hooks = Directory.CreateDirectory(Path.Combine(prefix, "etc", "conda", "activate.d")).FullName;
        await File.WriteAllTextAsync(Path.Combine(hooks, "licence.sh"), "export LICENCE_SERVER=lic.example:27000\nexport ANALYTICS_DATA=\"$CONDA_PREFIX/share\"\n");
        await File.WriteAllTextAsync(Path.Combine(home, ".condarc"), $"channels:\n  - conda-forge\nenvs_dirs:\n  - {envs}\n");
        await using var cluster = await CliCluster.StartAsync(null);
        cluster.Environment["HOME"] = home;
        await cluster.StartHeadAsync("{}");
        await using var driver = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout();
        var named = new TaskOptions { RuntimeEnv = new RuntimeEnv { Conda = new CondaSpec { Environment = "analytics" } } };

        var activation = await driver.Submit(() => PythonTasks.CondaActivation(), named).DefaultTimeout();
        var licence = await driver.Submit(() => TestTasks.GetEnv("LICENCE_SERVER"), named).DefaultTimeout();
        var data = await driver.Submit(() => TestTasks.GetEnv("ANALYTICS_DATA"), named).DefaultTimeout();
        var missing = await Assert.ThrowsAsync<RuntimeEnvSetupException>(() =>
            driver.Submit(() => TestTasks.Square(2), new TaskOptions { RuntimeEnv = new RuntimeEnv { Conda = new CondaSpec { Environment = "nowhere" } } }).DefaultTimeout());

        Assert.Equal($"{prefix}|analytics|{prefix}/bin|{prefix}/bin/python", activation);
        Assert.Equal("lic.example:27000", licence);
        Assert.Equal($"{prefix}/share", data);
        Assert.Equal("conda", missing.Field);
        Assert.Contains("has no conda environment named 'nowhere'", missing.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(envs, "nowhere"), missing.Message, StringComparison.Ordinal);
        Assert.Contains("no conda tool", missing.Message, StringComparison.Ordinal);
    }
}
