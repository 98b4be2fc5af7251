using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Terrarium.Node;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.RuntimeEnvs.Caching;

namespace Terrarium.Tests.Node.RuntimeEnvs.Caching;

/// <summary>
/// The collector over a real cache folder: unused folders go only past their kind's limit, least
/// recently used first; a dry run deletes nothing; a folder whose build holds its lock stays; NuGet
/// restores that resolved to a deleted package go with it; sizes and last use survive a restart.
/// </summary>
public sealed class CacheCollectorTests : IDisposable
{
    private readonly DirectoryInfo _cache = Directory.CreateTempSubdirectory("terrarium-collector-");
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));

    public void Dispose() => _cache.Delete(recursive: true);

    [Fact]
    public async Task UnusedFolders_GoPastTheLimitOnly_OldestFirst_KindByKind()
    {
        Folder("packages/old", 400_000, daysAgo: 3);
        Folder("packages/middle", 400_000, daysAgo: 2);
        Folder("packages/new", 400_000, daysAgo: 1);
        Folder("pip/venv", 400_000, daysAgo: 9);
        using var collector = Collector(new Dictionary<string, long> { ["working_dir"] = 900_000, ["pip"] = 500_000 });

        var report = await collector.CollectAsync(everythingUnused: false, dryRun: false, CancellationToken.None);

        Assert.Null(report.Skipped);
        Assert.Equal(["packages/old"], report.Removed.Select(r => r.Resource.Name));
        Assert.False(Directory.Exists(Path("packages/old")));
        Assert.True(Directory.Exists(Path("packages/middle")));
        Assert.True(Directory.Exists(Path("pip/venv")), "pip is within its own limit");
    }

    [Fact]
    public async Task DryRun_SaysWhatWouldGo_AndDeletesNothing()
    {
        Folder("packages/a", 1_000, daysAgo: 2);
        Folder("nuget/packages/deplib/1.0.0", 2_000, daysAgo: 1);
        using var collector = Collector([]);

        var report = await collector.CollectAsync(everythingUnused: true, dryRun: true, CancellationToken.None);

        Assert.Equal(["nuget/packages/deplib/1.0.0", "packages/a"], report.Removed.Select(r => r.Resource.Name).Order());
        Assert.Equal(3_000, report.Removed.Sum(r => r.Size));
        Assert.True(Directory.Exists(Path("packages/a")));
        Assert.True(Directory.Exists(Path("nuget/packages/deplib/1.0.0")));
    }

    [Fact]
    public async Task AFolderWhoseBuildHoldsItsLock_Stays()
    {
        Folder("pip/building", 1_000, daysAgo: 1);
        using var collector = Collector([]);

        using (new FileStream(Path("pip/building") + ".lock", FileMode.Create, FileAccess.ReadWrite, FileShare.None))
        {
            var report = await collector.CollectAsync(everythingUnused: true, dryRun: false, CancellationToken.None);

            Assert.Empty(report.Removed);
            Assert.True(Directory.Exists(Path("pip/building")));
        }

        Assert.Single((await collector.CollectAsync(everythingUnused: true, dryRun: false, CancellationToken.None)).Removed);
    }

    [Fact]
    public async Task ADeletedNuGetPackage_TakesTheRestoresThatResolvedToIt()
    {
        Folder("nuget/packages/deplib/1.0.0", 1_000, daysAgo: 1);
        Folder("nuget/packages/other/2.0.0", 1_000, daysAgo: 0);
        var uses = Directory.CreateDirectory(Path("nuget/envs/uses")).FullName;
        await File.WriteAllTextAsync(System.IO.Path.Combine(uses, "resolved.json"), $$"""{"a":"{{Path("nuget/packages/deplib/1.0.0")}}/lib/DepLib.dll"}""");
        var other = Directory.CreateDirectory(Path("nuget/envs/other")).FullName;
        await File.WriteAllTextAsync(System.IO.Path.Combine(other, "resolved.json"), $$"""{"a":"{{Path("nuget/packages/other/2.0.0")}}/lib/Other.dll"}""");
        using var collector = Collector(new Dictionary<string, long> { ["nuget"] = 1_500 });

        await collector.CollectAsync(everythingUnused: false, dryRun: false, CancellationToken.None);

        Assert.False(Directory.Exists(uses));
        Assert.True(Directory.Exists(other));
    }

    [Fact]
    public async Task SizesAndLastUse_AreFoundAgainByTheNextCollector()
    {
        Folder("conda/env", 5_000, daysAgo: 4);
        using (var first = Collector([]))
        {
            await first.CollectAsync(everythingUnused: false, dryRun: false, CancellationToken.None);
        }

        // Touched since (a restore of a backup, say): the index, not the folder's time, says when it was last used.
        Directory.SetLastWriteTimeUtc(Path("conda/env"), _clock.GetUtcNow().UtcDateTime);
        using var second = Collector([]);

        var state = second.Survey().Single();
        Assert.Equal(5_000, state.Size);
        Assert.Equal(_clock.GetUtcNow().AddDays(-4), state.LastUsed);
        Assert.Equal(0, state.Users);
    }

    [Theory]
    [InlineData("working_dir=10GB,nuget=2GiB", "working_dir", 10_000_000_000)]
    [InlineData("working_dir=10GB,nuget=2GiB", "nuget", 2L << 30)]
    [InlineData("pip=1.5MB", "pip", 1_500_000)]
    [InlineData("conda=123", "conda", 123)]
    public void Limits_AreReadAsKindEqualsSize(string text, string kind, long bytes) =>
        Assert.Equal(bytes, CacheLimits.Of(CacheLimits.Parse(text), kind));

    [Theory]
    [InlineData("docker=1GB", "KIND one of working_dir, pip, conda, nuget")]
    [InlineData("pip", "must be KIND=SIZE")]
    [InlineData("pip=lots", "'lots' is not a size")]
    [InlineData("pip=1GB,pip=2GB", "'pip' is given twice")]
    public void Limits_ThatDoNotRead_SayWhy(string text, string expected) =>
        Assert.Contains(expected, Assert.Throws<ArgumentException>(() => CacheLimits.Parse(text)).Message, StringComparison.Ordinal);

    [Fact]
    public async Task AFolderInUse_StaysWhateverTheLimit_AndCountsAsUsedNow()
    {
        Folder("packages/jobcode", 5_000, daysAgo: 3);
        Folder("packages/other", 5_000, daysAgo: 1);
        using var collector = Collector(new Dictionary<string, long> { ["working_dir"] = 0 }, inUse: [Path("packages/jobcode")]);

        var report = await collector.CollectAsync(everythingUnused: true, dryRun: false, CancellationToken.None);

        Assert.Equal(["packages/other"], report.Removed.Select(r => r.Resource.Name));
        var kept = collector.Survey().Single();
        Assert.Equal((1, _clock.GetUtcNow()), (kept.Users, kept.LastUsed));
    }

    [Fact]
    public async Task ACacheFolderThatAnotherRunningNodeShares_IsNotCollected_AndOneThatNodeLeftIs()
    {
        Folder("packages/theirs", 5_000, daysAgo: 1);
        using var collector = Collector([]);
        var other = Path("nodes/node-other.lock");

        using (new FileStream(other, FileMode.Create, FileAccess.ReadWrite, FileShare.None))
        {
            var shared = await collector.CollectAsync(everythingUnused: true, dryRun: false, CancellationToken.None);

            Assert.Contains("is shared with node node-other, which runs", shared.Skipped, StringComparison.Ordinal);
            Assert.True(Directory.Exists(Path("packages/theirs")));
        }

        var after = await collector.CollectAsync(everythingUnused: true, dryRun: false, CancellationToken.None);

        Assert.Null(after.Skipped);
        Assert.Single(after.Removed);
        Assert.False(File.Exists(other), "the lock of a node gone is removed");
    }

    private CacheCollector Collector(Dictionary<string, long> limits, string[]? inUse = null)
    {
        var options = new NodeOptions
        {
            NodeId = "node-test", CacheDirectory = _cache.FullName, CacheLimits = limits, TimeProvider = _clock, CacheCollectInterval = TimeSpan.FromDays(1),
        };
        var builds = new EnvBuildCache(options, [], NullLogger<EnvBuildCache>.Instance);
        return new CacheCollector(options, builds, new Users(inUse ?? []),
            new Terrarium.Node.RuntimeEnvs.Container.PulledImages(options, new Terrarium.Node.RuntimeEnvs.Container.ContainerCommand(options), NullLogger<Terrarium.Node.RuntimeEnvs.Container.PulledImages>.Instance),
            NullLogger<CacheCollector>.Instance);
    }

    private string Path(string name) => System.IO.Path.Combine(_cache.FullName, name);

    private void Folder(string name, int bytes, int daysAgo)
    {
        var folder = Directory.CreateDirectory(Path(name)).FullName;
        File.WriteAllBytes(System.IO.Path.Combine(folder, "content"), new byte[bytes]);
        Directory.SetLastWriteTimeUtc(folder, _clock.GetUtcNow().AddDays(-daysAgo).UtcDateTime);
    }

    /// <summary>No env in use; <paramref name="folders"/> in use as a job's shipped code is.</summary>
    private sealed class Users(string[] folders) : IEnvUsers
    {
        IEnumerable<(string Kind, string EnvHash)> IEnvUsers.Users() => [];

        public IEnumerable<string> FoldersInUse() => folders;
    }
}
