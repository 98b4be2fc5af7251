using System.Security.Cryptography;
using Terrarium.Head;
using Terrarium.Head.Packages;
using Terrarium.Head.State;
using Terrarium.Protocol;
using static Terrarium.Tests.Head.Packages.PackageStreams;

namespace Terrarium.Tests.Head.Packages;

/// <summary>
/// Collection in the head's package store, on a real folder: what a running job uses stays, what
/// was used within the protection window stays, and past the limit the rest goes, least recently
/// used first. A package's last use is its archive's modification time, which the tests set back
/// to age it.
/// </summary>
public sealed class PackageCollectionTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("terrarium-store-");

    public void Dispose() => _root.Delete(recursive: true);

    [Fact]
    public async Task PastTheLimit_UnusedPackagesGo_OldestFirst_UntilTheStoreFits()
    {
        var (store, _) = Store(limit: 250);
        var oldest = await UploadAsync(store, 100, age: TimeSpan.FromHours(3));
        var older = await UploadAsync(store, 100, age: TimeSpan.FromHours(2));

        var newest = await UploadAsync(store, 100);

        Assert.Equal(new[] { older, newest }.Order(StringComparer.Ordinal), Listed(store).Select(p => p.Hash).Order(StringComparer.Ordinal));
        Assert.DoesNotContain(oldest, Listed(store).Select(p => p.Hash));
    }

    [Fact]
    public async Task WithinTheLimit_NothingGoes_HoweverOld()
    {
        var (store, _) = Store(limit: 1000);
        var old = await UploadAsync(store, 100, age: TimeSpan.FromDays(30));

        await UploadAsync(store, 100);

        Assert.Contains(old, Listed(store).Select(p => p.Hash));
    }

    [Fact]
    public async Task APackageARunningJobUses_Stays_UntilTheJobEnds()
    {
        var (store, jobs) = Store(limit: 0);
        var job = jobs.RegisterJob("test", "");
        var used = await UploadAsync(store, 100, jobId: job, age: TimeSpan.FromHours(1));

        Assert.Empty(store.CollectUnused(dryRun: false));
        Assert.Equal([job], Assert.Single(Listed(store)).Jobs);

        jobs.FinishJob(job);
        await store.ReleaseEndedJobsAsync();

        Assert.Equal(used, Assert.Single(store.CollectUnused(dryRun: false)).Hash);
        Assert.Empty(Listed(store));
    }

    [Fact]
    public async Task AnEndedJobsPackage_StaysWhileANodeHoldsItsDetachedActors()
    {
        var (store, jobs) = Store(limit: 0);
        var job = jobs.RegisterJob("test", "");
        var used = await UploadAsync(store, 100, jobId: job, age: TimeSpan.FromHours(1));
        jobs.RegisterNode(new NodeInfo { NodeId = "n1" });
        jobs.Heartbeat("n1", new Dictionary<string, double>(), [job]);

        jobs.FinishJob(job);
        await store.ReleaseEndedJobsAsync();

        Assert.Empty(store.CollectUnused(dryRun: false));
        Assert.Equal([job], Assert.Single(Listed(store)).Jobs);

        // A report made before the node heard of the job's end does not tell: an actor made just
        // before the end may not be in it.
        jobs.Heartbeat("n1", new Dictionary<string, double>(), [], 0, jobs.EndedJobsEpoch);
        await store.ReleaseEndedJobsAsync();
        Assert.Empty(store.CollectUnused(dryRun: false));

        jobs.Heartbeat("n1", new Dictionary<string, double>(), [], jobs.EndedJobsSince(0, jobs.EndedJobsEpoch).Cursor, jobs.EndedJobsEpoch);
        await store.ReleaseEndedJobsAsync();

        Assert.Equal(used, Assert.Single(store.CollectUnused(dryRun: false)).Hash);
    }

    [Fact]
    public async Task ANodeDeclaredDead_KeepsItsLastReport_UntilTheHeadForgetsIt()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var options = new HeadOptions { StorageDirectory = _root.FullName, PackageStoreLimit = 0, TimeProvider = clock };
        var jobs = new HeadState(options);
        var store = new PackageStore(options, jobs, new MemoryOnly());
        var job = jobs.RegisterJob("test", "");
        await UploadAsync(store, 100, jobId: job, age: TimeSpan.FromHours(1));
        jobs.RegisterNode(new NodeInfo { NodeId = "n1" });
        jobs.Heartbeat("n1", new Dictionary<string, double>(), [job]);
        jobs.FinishJob(job);

        clock.Advance(options.NodeDeathTimeout * 2);
        await store.ReleaseEndedJobsAsync();
        Assert.Equal([job], Assert.Single(Listed(store)).Jobs);

        clock.Advance(options.EffectiveDeadNodeRetention);
        jobs.ForgetLongDeadNodes();
        await store.ReleaseEndedJobsAsync();
        Assert.Empty(Assert.Single(Listed(store)).Jobs);
    }

    [Fact]
    public async Task ANodeNotHeardFromSinceItRegistered_MayHoldDetachedActors_SoEndedJobsKeepTheirPackages()
    {
        var (store, jobs) = Store(limit: 0);
        var job = jobs.RegisterJob("test", "");
        await UploadAsync(store, 100, jobId: job, age: TimeSpan.FromHours(1));
        jobs.RegisterNode(new NodeInfo { NodeId = "n1" });

        jobs.FinishJob(job);
        await store.ReleaseEndedJobsAsync();

        Assert.Equal([job], Assert.Single(Listed(store)).Jobs);
    }

    [Fact]
    public async Task AJobAskingForAPackage_UsesIt_AndMakesItRecent()
    {
        var (store, jobs) = Store(limit: 0);
        var job = jobs.RegisterJob("test", "");
        var hash = await UploadAsync(store, 100, age: TimeSpan.FromHours(1));

        Assert.True(await store.HasAsync(hash, job));

        var listed = Assert.Single(Listed(store));
        Assert.Equal([job], listed.Jobs);
        Assert.True(listed.Protected);
    }

    [Fact]
    public async Task AJobThatIsNotRunning_DoesNotKeepAPackage()
    {
        var (store, _) = Store(limit: 0);
        var hash = await UploadAsync(store, 100, jobId: "job-0042-gone00", age: TimeSpan.FromHours(1));

        Assert.Empty(Assert.Single(Listed(store)).Jobs);
        Assert.Equal(hash, Assert.Single(store.CollectUnused(dryRun: false)).Hash);
    }

    [Fact]
    public async Task AJustUploadedPackage_IsProtected_EvenOverTheLimit_UntilTheWindowPasses()
    {
        var (store, _) = Store(limit: 0);
        var hash = await UploadAsync(store, 100);

        Assert.True(Assert.Single(Listed(store)).Protected);
        Assert.Empty(store.CollectUnused(dryRun: false));

        Age(hash, TimeSpan.FromMinutes(11));

        Assert.False(Assert.Single(Listed(store)).Protected);
        Assert.Equal(hash, Assert.Single(store.CollectUnused(dryRun: false)).Hash);
    }

    [Fact]
    public async Task DryRun_SaysWhatWouldGo_AndDeletesNothing()
    {
        var (store, _) = Store(limit: 0);
        var hash = await UploadAsync(store, 100, age: TimeSpan.FromHours(1));

        var wouldGo = Assert.Single(store.CollectUnused(dryRun: true));

        Assert.Equal((hash, 100L), (wouldGo.Hash, wouldGo.Size));
        Assert.True(await store.HasAsync(hash, ""));
    }

    [Fact]
    public async Task ARestoredHead_KeepsWhatItsRestoredJobsUse_NotWhatEndedJobsUsed_OnceItsRestoredNodesSayTheyHoldNone()
    {
        var (first, jobs) = Store(limit: 0);
        var running = jobs.RegisterJob("running", "");
        var kept = await UploadAsync(first, 100, jobId: running, age: TimeSpan.FromHours(1));
        var released = await UploadAsync(first, 100, age: TimeSpan.FromHours(1));

        var options = Options(limit: 0);
        var restoredJobs = new HeadState(options);
        restoredJobs.Restore(StoredHeadState.Empty with { Nodes = [new NodeInfo { NodeId = "n1" }], Jobs = [(running, new RegisterJobRequest { Driver = "running" })] });
        var restored = new PackageStore(options, restoredJobs, new MemoryOnly());
        restored.Restore([(running, kept), ("job-0001-ended0", released)]);

        // Until its node registers again and reports, the ended job's detached actors may live there.
        await restored.ReleaseEndedJobsAsync();
        Assert.Empty(restored.CollectUnused(dryRun: false));

        restoredJobs.RegisterNode(new NodeInfo { NodeId = "n1" });
        restoredJobs.Heartbeat("n1", new Dictionary<string, double>(), []);
        await restored.ReleaseEndedJobsAsync();

        Assert.Equal(released, Assert.Single(restored.CollectUnused(dryRun: false)).Hash);
        Assert.Equal([running], Assert.Single(Listed(restored)).Jobs);
    }

    [Theory]
    [InlineData(-1, 60, "PackageStoreLimit")]
    [InlineData(0, -1, "PackageProtection")]
    public void ANegativeLimitOrProtection_IsRefusedNamingIt(long limit, int protectionSeconds, string named)
    {
        var options = new HeadOptions
        {
            Endpoints = [Terrarium.Protocol.Transport.Endpoint.UnixSocket("/tmp/head.sock")], Token = "t", StorageDirectory = _root.FullName,
            PackageStoreLimit = limit, PackageProtection = TimeSpan.FromSeconds(protectionSeconds),
        };

        var error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Equal(named, error.ParamName);
        Assert.Contains("must not be negative", error.Message, StringComparison.Ordinal);
    }

    private HeadOptions Options(long limit) => new() { StorageDirectory = _root.FullName, PackageStoreLimit = limit };

    private (PackageStore Store, HeadState Jobs) Store(long limit)
    {
        var options = Options(limit);
        var jobs = new HeadState(options);
        return (new PackageStore(options, jobs, new MemoryOnly()), jobs);
    }

    private static List<PackageInfo> Listed(PackageStore store) => store.List().Packages.ToList();

    /// <summary>Uploads <paramref name="size"/> random bytes, then sets its last use <paramref name="age"/> back.</summary>
    private async Task<string> UploadAsync(PackageStore store, int size, string jobId = "", TimeSpan age = default)
    {
        var bytes = RandomNumberGenerator.GetBytes(size);
        var hash = Hash(bytes);
        await store.ReceiveAsync(Chunks(hash, size, bytes, 64, jobId), CancellationToken.None);
        Age(hash, age);
        return hash;
    }

    private void Age(string hash, TimeSpan age) =>
        File.SetLastWriteTimeUtc(Path.Combine(_root.FullName, "packages", hash + ".zip"), DateTime.UtcNow - age);
}
