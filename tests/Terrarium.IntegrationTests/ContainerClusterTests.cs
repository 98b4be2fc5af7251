using ClusterWork;

namespace Terrarium.IntegrationTests;

/// <summary>
/// No shared filesystem: a head and two nodes as podman containers on a podman network — each its
/// own hostname, filesystem and network namespace — and this test process as the driver on the host.
/// </summary>
public sealed class ContainerClusterTests
{
    private const string Token = "container-cluster-token-0123456789";

    [SkippableFact]
    public async Task HeadAndNodesInContainers_RunTasksActorsLargeObjectsWorkingDirAndNuGetEnvs_FromADriverOnTheHost()
    {
        PodmanImages.Require();
        var image = await PodmanImages.TerrariumAsync(await PodmanImages.SdkAsync());
        var name = "terrarium-test-" + Guid.NewGuid().ToString("N")[..8];
        var scratch = Directory.CreateTempSubdirectory("terrarium-containers-").FullName;
        var nugetConfig = Path.Combine(scratch, "NuGet.Config");
        // The nodes restore only from the env's own (shipped) feed: no public feed in the test.
        LocalFeed.WriteIsolatedNuGetConfig(nugetConfig);
        await PodmanImages.RunAsync("podman", "network", "create", name);
        try
        {
            var (headIp, headLog) = await StartAsync(name, "head", image, nugetConfig, "--head", "--port", "6380", "--resources", """{"red": 1}""");
            // The join line pins the CA the head made in its container: nodes and the driver check the head with it.
            var caHash = headLog.Split("--ca-hash ")[1].Split('\n')[0].Trim();
            await StartAsync(name, "node1", image, nugetConfig, "--address", $"{headIp}:6380", "--ca-hash", caHash, "--resources", """{"blue": 2}""");
            await StartAsync(name, "node2", image, nugetConfig, "--address", $"{headIp}:6380", "--ca-hash", caHash, "--resources", """{"green": 1}""");

            await using var cluster = await Cluster.InitAsync(new ClusterOptions { Address = $"{headIp}:6380", Token = Token, CaHash = caHash, LogToDriver = false }).DefaultTimeout();
            var blue = new TaskOptions { Resources = { ["blue"] = 1 } };

            // Each node is its own machine: its own hostname, and none of the driver's files.
            Assert.Equal("node1", await cluster.Submit(() => ContainerTasks.HostName(), blue).DefaultTimeout());
            Assert.Equal("node2", await cluster.Submit(() => ContainerTasks.HostName(), new TaskOptions { Resources = { ["green"] = 1 } }).DefaultTimeout());
            Assert.Equal("head", await cluster.Submit(() => ContainerTasks.HostName(), new TaskOptions { Resources = { ["red"] = 1 } }).DefaultTimeout());
            var driverFile = typeof(ContainerClusterTests).Assembly.Location;
            Assert.False(await cluster.Submit(() => ContainerTasks.Exists(driverFile), blue).DefaultTimeout());

            // A large result stays in its container; another container copies it from there, and
            // the driver fetches it.
            var made = cluster.Submit(() => MultiNodeTasks.MakeBytes(4), new TaskOptions { Resources = { ["green"] = 1 } });
            var described = await cluster.Submit(() => MultiNodeTasks.Describe(made), blue).DefaultTimeout();
            var bytes = await made.DefaultTimeout();
            Assert.Equal(MultiNodeTasks.Checksum(MultiNodeTasks.MakeBytes(4)), MultiNodeTasks.Checksum(bytes));
            Assert.StartsWith($"{4 << 20}:{MultiNodeTasks.Checksum(bytes)} on ", described, StringComparison.Ordinal);

            // A working dir and a nuget env, shipped from the driver.
            var workingDir = Path.Combine(scratch, "code");
            Directory.CreateDirectory(workingDir);
            await File.WriteAllTextAsync(Path.Combine(workingDir, "data.txt"), "from the driver's disk");
            var withFiles = new TaskOptions { Resources = { ["blue"] = 1 }, RuntimeEnv = new RuntimeEnv { WorkingDir = workingDir } };
            Assert.Equal("from the driver's disk", await cluster.Submit(() => FileTasks.Read("data.txt"), withFiles).DefaultTimeout());
            var feed = Path.Combine(scratch, "feed");
            LocalFeed.Build(feed);
            var withPackage = new TaskOptions { Resources = { ["green"] = 1 }, RuntimeEnv = new RuntimeEnv { NuGet = new NuGetSpec { Packages = ["DepLib@2.0.0"], Sources = [feed] } } };
            Assert.Equal("DepLib 2.0.0.0", await cluster.Submit(() => NuGetTasks.DepLibVersion(), withPackage).DefaultTimeout());

            // An actor in one container, called from the host and from a task in another container.
            var counter = cluster.CreateActor(() => new NodeCounter(), new ActorOptions { NumCpus = 0, Resources = { ["blue"] = 1 } });
            Assert.Equal(2, await counter.Call(c => c.Add(2)).DefaultTimeout());
            Assert.StartsWith("5 via ", await cluster.Submit(() => MultiNodeTasks.CallFromHere(counter, 3), new TaskOptions { Resources = { ["red"] = 1 } }).DefaultTimeout(), StringComparison.Ordinal);
        }
        finally
        {
            foreach (var container in new[] { "node2", "node1", "head" })
            {
                await PodmanImages.RunAsync("podman", "rm", "-f", "-t", "10", $"{name}-{container}").ContinueWith(_ => { }, TaskScheduler.Default);
            }

            await PodmanImages.RunAsync("podman", "network", "rm", "-f", name).ContinueWith(_ => { }, TaskScheduler.Default);
            Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>Starts <c>terrarium start … --block</c> in a container on the network; its IP and output once it serves.</summary>
    private static async Task<(string Ip, string Log)> StartAsync(string network, string hostname, string image, string nugetConfig, params string[] role)
    {
        var container = $"{network}-{hostname}";
        await PodmanImages.RunAsync("podman", [
            "run", "-d", "--name", container, "--network", network, "--hostname", hostname,
            "-e", $"TERRARIUM_TOKEN={Token}", "-v", $"{nugetConfig}:/etc/terrarium/NuGet.Config:ro",
            image, "start", .. role, "--host", "0.0.0.0", "--num-cpus", "1", "--nuget-config", "/etc/terrarium/NuGet.Config", "--block"]);
        var logs = "";
        await TestWaits.UntilAsync(async () =>
        {
            logs = await PodmanImages.RunAsync("podman", "logs", container);
            if (logs.Contains("terrarium: ", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"{container} did not start: {logs}");
            }

            return logs.Contains(hostname == "head" ? "  Stop:" : "joined the cluster at", StringComparison.Ordinal);
        }, $"{container} serves");
        return (await PodmanImages.RunAsync("podman", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container), logs);
    }
}

public static class ContainerTasks
{
    public static string HostName() => Environment.MachineName;

    public static bool Exists(string path) => File.Exists(path);
}
