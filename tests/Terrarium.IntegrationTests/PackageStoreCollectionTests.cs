using System.Diagnostics;
using System.Text.Json;
using ClusterWork;

namespace Terrarium.IntegrationTests;

/// <summary>
/// The head's package store kept within its limit, with real drivers, a real head and the CLI: a
/// package a running job uses stays; one used within the protection window stays; the rest go past
/// the limit, or with <c>terrarium env gc</c> (<c>--dry-run</c> only says so). A job ends for the
/// store when its driver disposes it, or when its driver dies and its home node sees it go.
/// </summary>
public sealed class PackageStoreCollectionTests : IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("terrarium-package-gc-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [SkippableFact]
    public async Task APackageInUseStays_AnUnusedOneGoesPastTheLimitOnceProtectionEnds_AndEnvGcDeletesTheRest()
    {
        var (a, b) = (WorkingDir("a"), WorkingDir("b"));
        await using var cluster = await CliCluster.StartAsync("{}", ["--package-store-limit", "0", "--package-protection", "1"], []);
        string packageOfA;
        await using (var first = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout())
        {
            Assert.Equal("a", await first.Submit(() => FileTasks.Read("name.txt"), a).DefaultTimeout());
            var used = Assert.Single(await PackagesAsync(cluster));
            Assert.Equal([first.JobId], used.Jobs);
            Assert.Equal("in use", used.State);
            packageOfA = used.Hash;

            // Over the limit of 0 bytes, yet in use: gc deletes nothing.
            var gc = await cluster.RunAsync("env", "gc");
            Assert.True(gc.ExitCode == 0, gc.Stderr);
            Assert.Contains("head: freed 0 KiB (0 unused packages)", gc.Stdout, StringComparison.Ordinal);
            Assert.Single(await PackagesAsync(cluster));
        }

        // The job ended: unused once the one-second protection has passed, and still there.
        await TestWaits.UntilAsync(async () => await PackagesAsync(cluster) is [{ State: "unused" }], "the ended job's package to become unused");
        var dry = await cluster.RunAsync("env", "gc", "--dry-run");
        Assert.True(dry.ExitCode == 0, dry.Stderr);
        Assert.Contains($"head: would delete pkg://{packageOfA} (", dry.Stdout, StringComparison.Ordinal);
        Assert.Equal([packageOfA], (await PackagesAsync(cluster)).Select(p => p.Hash));

        await using (var second = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout())
        {
            // b's upload takes the store past its limit: a's package, unused, goes; b's, in use, stays.
            Assert.Equal("b", await second.Submit(() => FileTasks.Read("name.txt"), b).DefaultTimeout());
            await TestWaits.UntilAsync(async () => await PackagesAsync(cluster) is [var kept] && kept.Hash != packageOfA && kept.Jobs.SequenceEqual([second.JobId]),
                "a's package to go, and b's to stay in use");

            // What went is uploaded again when work needs it.
            Assert.Equal("a", await second.Submit(() => FileTasks.Read("name.txt"), a).DefaultTimeout());
        }

        await TestWaits.UntilAsync(async () => await PackagesAsync(cluster) is [{ State: "unused" }, { State: "unused" }], "the second job's packages to become unused");
        var gone = await cluster.RunAsync("env", "gc");
        Assert.True(gone.ExitCode == 0, gone.Stderr);
        Assert.Contains($"head: deleted pkg://{packageOfA} (", gone.Stdout, StringComparison.Ordinal);
        Assert.Contains("(2 unused packages)", gone.Stdout, StringComparison.Ordinal);
        Assert.Empty(await PackagesAsync(cluster));
    }

    [SkippableFact]
    public async Task AnUnusedPackage_SurvivesUploadsAndGcPastTheLimit_WithinItsProtectionWindow()
    {
        await using var cluster = await CliCluster.StartAsync("{}", ["--package-store-limit", "0", "--package-protection", "600"], []);
        await using (var first = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout())
        {
            Assert.Equal("a", await first.Submit(() => FileTasks.Read("name.txt"), WorkingDir("a")).DefaultTimeout());
        }

        await TestWaits.UntilAsync(async () => await PackagesAsync(cluster) is [{ State: "protected", Jobs: [] }], "the ended job's package to be unused, and protected");
        await using (var second = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout())
        {
            // b's upload takes the store past its limit of 0 bytes, and collects: a's package was used a moment ago.
            Assert.Equal("b", await second.Submit(() => FileTasks.Read("name.txt"), WorkingDir("b")).DefaultTimeout());
        }

        var gc = await cluster.RunAsync("env", "gc");
        Assert.True(gc.ExitCode == 0, gc.Stderr);
        Assert.Contains("head: freed 0 KiB (0 unused packages)", gc.Stdout, StringComparison.Ordinal);
        Assert.Equal(2, (await PackagesAsync(cluster)).Count);
    }

    [SkippableFact]
    public async Task AnEndedJobsDetachedActor_KeepsTheJobsPackages_UntilItIsKilled()
    {
        var env = WorkingDir("a").RuntimeEnv;
        await using var cluster = await CliCluster.StartAsync("{}", ["--package-store-limit", "0", "--package-protection", "1"], []);
        string jobId;
        await using (var first = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout())
        {
            var keeper = first.CreateActor(() => new NodeCounter(), new ActorOptions { Name = "keeper", Lifetime = ActorLifetime.Detached, NumCpus = 0, RuntimeEnv = env });
            Assert.Equal(1, await keeper.Call(c => c.Add(1)).DefaultTimeout());
            jobId = first.JobId;
        }

        // The job has ended (its driver said so as it was disposed) and the protection window has
        // passed, over a limit of 0 bytes: yet the job's detached actor keeps its packages.
        await TestWaits.UntilAsync(async () => (await PackagesAsync(cluster)).All(p => !p.Protected), "the protection window to pass");
        var kept = await cluster.RunAsync("env", "gc");
        Assert.True(kept.ExitCode == 0, kept.Stderr);
        Assert.Contains("head: freed 0 KiB (0 unused packages)", kept.Stdout, StringComparison.Ordinal);
        Assert.All(await PackagesAsync(cluster), p => Assert.Equal((jobId, "in use"), (string.Join(",", p.Jobs), p.State)));

        await using (var second = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout())
        {
            await (await second.GetActorAsync<NodeCounter>("keeper").DefaultTimeout()).KillAsync().DefaultTimeout();
        }

        await TestWaits.UntilAsync(async () => (await PackagesAsync(cluster)).All(p => p.State == "unused"), "the killed actor's job to stop using its packages");
        var gone = await cluster.RunAsync("env", "gc");
        Assert.True(gone.ExitCode == 0, gone.Stderr);
        Assert.Empty(await PackagesAsync(cluster));
    }

    [Fact]
    public async Task ADriverThatDies_ItsHomeNodeEndsItsJob_SoItsPackagesAreUnused_AndItsActorsNameIsFree()
    {
        await using var cluster = await StandaloneCluster.StartAsync(sessionResumeGrace: TimeSpan.FromSeconds(2));
        var start = new ProcessStartInfo(Terrarium.Node.WorkerHostCommand.CurrentDotnet(),
            [Path.Combine(AppContext.BaseDirectory, "SecondDriver.dll"), cluster.DriverOptions.Address!, StandaloneCluster.Token, "--hold", "held"])
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.Environment["TERRARIUM_CA_HASH"] = cluster.DriverOptions.CaHash;
        await using var observer = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout();
        using (var dying = Process.Start(start)!)
        {
            var jobId = await dying.StandardOutput.ReadLineAsync().DefaultTimeout();
            Assert.Contains((await observer.GetStatusAsync().DefaultTimeout()).Packages, p => p.Jobs.Contains(jobId!));
            dying.Kill();
        }

        // Past the session's grace, the node tells the head with its next heartbeat.
        await TestWaits.UntilAsync(async () => (await observer.GetStatusAsync()).Packages.All(p => p.Jobs.Count == 0), "the dead driver's job to end at the head");
        var again = observer.CreateActor(() => new NodeCounter(), new ActorOptions { Name = "held", NumCpus = 0 });
        Assert.Equal(1, await again.Call(c => c.Add(1)).DefaultTimeout());
    }

    /// <summary>A working dir of ~300 KB that does not compress, whose name.txt says <paramref name="name"/>.</summary>
    private TaskOptions WorkingDir(string name) => NamedWorkingDirs.Make(_scratch, name, 300_000);

    private static async Task<List<StoredPackage>> PackagesAsync(CliCluster cluster)
    {
        var listed = await cluster.RunAsync("env", "list", "--json");
        Assert.True(listed.ExitCode == 0, listed.Stderr);
        return JsonDocument.Parse(listed.Stdout).RootElement.GetProperty("packages").GetProperty("archives").EnumerateArray()
            .Select(p => new StoredPackage(p.GetProperty("hash").GetString()!, p.GetProperty("state").GetString()!,
                p.GetProperty("jobs").EnumerateArray().Select(j => j.GetString()!).ToList(), p.GetProperty("protected").GetBoolean()))
            .OrderBy(p => p.Hash, StringComparer.Ordinal)
            .ToList();
    }

    private sealed record StoredPackage(string Hash, string State, List<string> Jobs, bool Protected);
}
