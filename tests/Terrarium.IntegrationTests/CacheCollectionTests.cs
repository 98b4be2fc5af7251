using System.Text.Json;

namespace Terrarium.IntegrationTests;

/// <summary>
/// A node's env cache kept within its limit, with real drivers, workers and the CLI: folders in use
/// stay; unused ones stay until their kind is past its limit, then go least recently used first;
/// <c>terrarium env gc</c> deletes every unused one (<c>--dry-run</c> only says so); what went is
/// built again when work needs it.
/// </summary>
public sealed class CacheCollectionTests : IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("terrarium-cache-gc-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [SkippableFact]
    public async Task WorkingDirs_InUseStay_UnusedGoPastTheLimitOldestFirst_AndEnvGcDeletesTheRest()
    {
        var (a, b, c) = (Job("a"), Job("b"), Job("c"));
        await using var cluster = await CliCluster.StartAsync("{}", ["--cache-limit", "working_dir=1MB"], []);
        string first;
        await using (var driver = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout())
        {
            Assert.Equal("a", await driver.Submit(() => FileTasks.Read("name.txt"), a).DefaultTimeout());
            first = (await WorkingDirsAsync(cluster)).Single(r => r.Users > 0).Name;

            var gc = await cluster.RunAsync("env", "gc");
            Assert.True(gc.ExitCode == 0, gc.Stderr);
            Assert.Contains("freed 0 KiB (0 unused folders)", gc.Stdout, StringComparison.Ordinal);
        }

        await using (var driver = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout())
        {
            Assert.Equal("b", await driver.Submit(() => FileTasks.Read("name.txt"), b).DefaultTimeout());
        }

        // Both jobs ended, so their workers did: unused, and kept (800 KB of the 1 MB).
        await TestWaits.UntilAsync(async () => await WorkingDirsAsync(cluster) is [{ Users: 0 }, { Users: 0 }], "both working dirs to be unused");
        var second = (await WorkingDirsAsync(cluster)).Single(r => r.Name != first).Name;

        // An actor keeps c in use for as long as it lives, however long the test takes.
        await using var third = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout();
        var actor = third.CreateActor(() => new Counter(0), new ActorOptions { RuntimeEnv = c.RuntimeEnv });
        Assert.Equal(1, await actor.Call(a => a.Increment(1)).DefaultTimeout());

        // 1.2 MB is past the limit: the least recently used unused folder goes, and that is enough.
        await TestWaits.UntilAsync(async () => await WorkingDirsAsync(cluster) is { Count: 2 } dirs && dirs.All(d => d.Name != first) && dirs.Any(d => d.Name == second),
            "the oldest unused working dir to go");

        var dry = await cluster.RunAsync("env", "gc", "--dry-run");
        Assert.True(dry.ExitCode == 0, dry.Stderr);
        Assert.Contains($"would delete {second} (working_dir, ", dry.Stdout, StringComparison.Ordinal);
        Assert.Equal(2, (await WorkingDirsAsync(cluster)).Count);

        var gone = await cluster.RunAsync("env", "gc");
        Assert.True(gone.ExitCode == 0, gone.Stderr);
        Assert.Contains($"deleted {second} (working_dir, ", gone.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"freed 39\d\.\d KiB \(1 unused folder\)", gone.Stdout);
        Assert.Equal([true], (await WorkingDirsAsync(cluster)).Select(r => r.Users > 0));

        // What went is unpacked again when work needs it.
        Assert.Equal("a", await third.Submit(() => FileTasks.Read("name.txt"), a).DefaultTimeout());
        Assert.Equal("b", await third.Submit(() => FileTasks.Read("name.txt"), b).DefaultTimeout());
    }

    [Fact]
    public async Task Users_DropWhenAnIdleWorkerIsReapedOrAnActorIsKilled_AndANodeStartedAgainFindsSizesAndLastUses()
    {
        var options = new ClusterOptions
        {
            NumCpus = 2, IdleWorkerTimeout = TimeSpan.FromSeconds(1), CacheDirectory = Path.Combine(_scratch, "cache"), LogToDriver = false,
        };
        List<CachedResourceSummary> before;
        await using (var cluster = await Cluster.InitAsync(options).DefaultTimeout())
        {
            var gate = Path.Combine(_scratch, "gate");
            var waiting = cluster.Submit(() => TestTasks.WaitForFile(gate, 7), Job("a"));
            await TestWaits.UntilAsync(async () => (await WorkingDirsAsync(cluster)).Any(r => r.Users > 0), "the waiting task to use its working dir");
            await File.WriteAllTextAsync(gate, "");
            Assert.Equal(7, await waiting.DefaultTimeout());
            // The job runs on; the task's worker, idle, is reaped.
            await TestWaits.UntilAsync(async () => (await WorkingDirsAsync(cluster)).All(r => r.Users == 0), "the idle worker's folder to be unused");

            var actor = cluster.CreateActor(() => new Counter(0), new ActorOptions { RuntimeEnv = Job("b").RuntimeEnv });
            Assert.Equal(1, await actor.Call(a => a.Increment(1)).DefaultTimeout());
            Assert.Equal(1, (await WorkingDirsAsync(cluster)).Count(r => r.Users > 0));
            await actor.KillAsync().DefaultTimeout();
            await TestWaits.UntilAsync(async () => (await WorkingDirsAsync(cluster)).All(r => r.Users == 0), "the killed actor's folder to be unused");
            before = await WorkingDirsAsync(cluster);
        }

        await using var again = await Cluster.InitAsync(options).DefaultTimeout();
        Assert.Equal(2, before.Count);
        Assert.Equal(before.Select(r => (r.Name, r.Size, r.LastUsed)), (await WorkingDirsAsync(again)).Select(r => (r.Name, r.Size, r.LastUsed)));
    }

    [SkippableFact]
    public async Task AnImageTheNodePulled_StaysWhileInUse_GoesOnceUnusedPastTheLimit_AndIsPulledAgainWhenNeeded()
    {
        PodmanImages.Require();
        using var registry = await ImageRegistry.StartAsync();
        var image = await registry.PushAsync(await PodmanImages.MarkedAsync(), "terrarium-gc-test:1");
        var inImage = new TaskOptions { RuntimeEnv = new RuntimeEnv { Container = new ContainerSpec { Image = image } } };
        await using var cluster = await CliCluster.StartAsync(null);
        cluster.Environment["CONTAINERS_REGISTRIES_CONF"] = registry.RegistriesConf;
        await cluster.StartHeadAsync("{}", "--cache-limit", "container=1MB");
        try
        {
            await using (var driver = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout())
            {
                Assert.Equal("localhost/terrarium-test-marked:1|container", await driver.Submit(() => ContainerEnvTasks.Where(), inImage).DefaultTimeout());
                var pulled = Assert.Single(await ResourcesAsync(cluster, "container"));
                Assert.True(pulled.Size > 1_000_000, $"the image's size, not its record's, counts: {pulled.Size}");
                Assert.True(await ImageExistsAsync(image), "the node pulled the image");

                // Over the 1 MB limit, yet in use by the job's worker: it stays.
                var gc = await cluster.RunAsync("env", "gc", "--dry-run");
                Assert.True(gc.ExitCode == 0, gc.Stderr);
                Assert.DoesNotContain("(container, ", gc.Stdout, StringComparison.Ordinal);
            }

            // The job ended, its worker went: the image is unused, past the limit, and goes with the
            // next collection — which the next env the node builds starts.
            await TestWaits.UntilAsync(async () => await ResourcesAsync(cluster, "container") is [{ Users: 0 }], "the image to be unused");
            await using (var driver = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout())
            {
                Assert.Equal("a", await driver.Submit(() => FileTasks.Read("name.txt"), Job("a")).DefaultTimeout());
            }

            await TestWaits.UntilAsync(async () => await ResourcesAsync(cluster, "container") is [] && !await ImageExistsAsync(image),
                "the unused image to be removed");

            // Needed again, it is pulled again.
            await using (var driver = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout())
            {
                Assert.Equal("localhost/terrarium-test-marked:1|container", await driver.Submit(() => ContainerEnvTasks.Where(), inImage).DefaultTimeout());
            }
        }
        finally
        {
            await PodmanImages.RunAsync("podman", "rmi", "--force", "--ignore", image);
        }
    }

    private static async Task<bool> ImageExistsAsync(string image)
    {
        try
        {
            await PodmanImages.RunAsync("podman", "image", "exists", image);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static async Task<List<ListedResource>> ResourcesAsync(CliCluster cluster, string kind)
    {
        var listed = await cluster.RunAsync("env", "list", "--json");
        Assert.True(listed.ExitCode == 0, listed.Stderr);
        return JsonDocument.Parse(listed.Stdout).RootElement.GetProperty("nodes").EnumerateArray().Single().GetProperty("resources").EnumerateArray()
            .Where(r => r.GetProperty("kind").GetString() == kind)
            .Select(r => new ListedResource(r.GetProperty("name").GetString()!, r.GetProperty("size").GetInt64(), r.GetProperty("users").GetInt32()))
            .ToList();
    }

    /// <summary>A working dir of ~400 KB that does not compress, whose name.txt says <paramref name="name"/>.</summary>
    private TaskOptions Job(string name) => NamedWorkingDirs.Make(_scratch, name, 400_000);

    private static async Task<List<CachedFolder>> WorkingDirsAsync(CliCluster cluster)
    {
        var listed = await cluster.RunAsync("env", "list", "--json");
        Assert.True(listed.ExitCode == 0, listed.Stderr);
        return JsonDocument.Parse(listed.Stdout).RootElement.GetProperty("nodes").EnumerateArray().Single().GetProperty("resources").EnumerateArray()
            .Where(r => r.GetProperty("kind").GetString() == "working_dir")
            .Select(r => new CachedFolder(r.GetProperty("name").GetString()!, r.GetProperty("users").GetInt32()))
            .OrderBy(r => r.Name, StringComparer.Ordinal)
            .ToList();
    }

    private static async Task<List<CachedResourceSummary>> WorkingDirsAsync(Cluster cluster) =>
        (await cluster.GetStatusAsync().DefaultTimeout()).Nodes.Single().CachedResources.Where(r => r.Kind == "working_dir").OrderBy(r => r.Name, StringComparer.Ordinal).ToList();

    private sealed record CachedFolder(string Name, int Users);

    private sealed record ListedResource(string Name, long Size, int Users);
}
