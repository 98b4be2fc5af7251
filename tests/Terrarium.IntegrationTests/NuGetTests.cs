using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Terrarium.IntegrationTests;

/// <summary>A cluster whose node restores only from the tests' local feed, into a fresh cache.</summary>
public sealed class NuGetFixture : IAsyncLifetime
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("terrarium-nuget-");
    private Cluster? _cluster;
    private ILoggerFactory? _loggers;

    public Cluster Cluster => _cluster!;

    /// <summary>What the driver logged.</summary>
    public FakeLoggerProvider Logs { get; } = new();

    public string Feed => Path.Combine(_root.FullName, "feed");

    public async Task InitializeAsync()
    {
        LocalFeed.Build(Feed);
        var config = Path.Combine(_root.FullName, "NuGet.Config");
        LocalFeed.WriteIsolatedNuGetConfig(config);
        _loggers = LoggerFactory.Create(builder => builder.AddProvider(Logs));
        _cluster = await Cluster.InitAsync(new ClusterOptions
        {
            LoggerFactory = _loggers,
            NumCpus = 2,
            LogToDriver = false,
            CacheDirectory = Path.Combine(_root.FullName, "cache"),
            NuGetConfigFile = config,
        }).DefaultTimeout();
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        _loggers?.Dispose();
        Logs.Dispose();

        _root.Delete(recursive: true);
    }
}

public sealed class NuGetTests(NuGetFixture fixture) : IClassFixture<NuGetFixture>
{
    private Cluster Cluster => fixture.Cluster;

    private TaskOptions With(params string[] packages) => new()
    {
        RuntimeEnv = new RuntimeEnv { NuGet = new NuGetSpec { Packages = packages, Sources = [fixture.Feed] } },
    };

    [Fact]
    public async Task TwoTasks_EachSeesItsOwnVersion_AndTheDriverSeesItsOwn()
    {
        var one = Cluster.Submit(() => NuGetTasks.DepLibVersion(), With("DepLib@1.0.0"));
        var two = Cluster.Submit(() => NuGetTasks.DepLibVersion(), With("DepLib@2.0.0"));

        Assert.Equal("DepLib 1.0.0.0", await one.DefaultTimeout());
        Assert.Equal("DepLib 2.0.0.0", await two.DefaultTimeout());
        Assert.Equal("DepLib 3.0.0.0", DepLib.Info.Describe());
    }

    [Fact]
    public async Task Actors_WithDifferentVersions_LiveSideBySideInDifferentWorkers()
    {
        var v1 = Cluster.CreateActor(() => new VersionedActor(), new ActorOptions { RuntimeEnv = With("DepLib@1.0.0").RuntimeEnv });
        var v2 = Cluster.CreateActor(() => new VersionedActor(), new ActorOptions { RuntimeEnv = With("DepLib@2.0.0").RuntimeEnv });

        Assert.Equal("DepLib 1.0.0.0", await v1.Call(a => a.Version()).DefaultTimeout());
        Assert.Equal("DepLib 2.0.0.0", await v2.Call(a => a.Version()).DefaultTimeout());
        Assert.NotEqual(await v1.Call(a => a.Pid()).DefaultTimeout(), await v2.Call(a => a.Pid()).DefaultTimeout());
        await v1.KillAsync().DefaultTimeout();
        await v2.KillAsync().DefaultTimeout();
    }

    [Fact]
    public async Task TransitiveDependency_IsRestoredAndRecorded()
    {
        var options = With("DepLib.Consumer@1.0.0");

        Assert.Equal("consumer uses DepLib 1.0.0.0", await Cluster.Submit(() => NuGetTasks.ConsumerDescribe(), options).DefaultTimeout());
        Assert.Equal(new[] { "DepLib.Consumer@1.0.0", "DepLib@1.0.0" }, (await Cluster.Submit(() => NuGetTasks.RestoredPackages(), options).DefaultTimeout()).Order());
    }

    [Fact]
    public async Task IdWithoutVersion_GetsTheNewestStable()
    {
        Assert.Equal("DepLib 2.0.0.0", await Cluster.Submit(() => NuGetTasks.DepLibVersion(), With("DepLib")).DefaultTimeout());
    }

    [Fact]
    public async Task VersionTheFeedLacks_RunsWithTheNextOne_AndTheDriversLoggerSaysSoNamingBoth()
    {
        Assert.Equal("DepLib 2.0.0.0", await Cluster.Submit(() => NuGetTasks.DepLibVersion(), With("DepLib@1.5.0")).DefaultTimeout());

        await TestWaits.UntilAsync(() => fixture.Logs.Collector.GetSnapshot().Any(r => r.Level == LogLevel.Warning &&
            r.Message.Contains("nuget: DepLib 1.5.0 was asked for ('DepLib@1.5.0') and NuGet resolved 2.0.0", StringComparison.Ordinal) &&
            r.Message.Contains("'DepLib@[1.5.0]' asks for exactly 1.5.0", StringComparison.Ordinal)), "the driver's logger to warn of the substitution");
    }

    [Fact]
    public async Task VersionTheFeedLacks_WithExact_FailsTheSetupNamingBothVersions()
    {
        var exact = new TaskOptions { RuntimeEnv = new RuntimeEnv { NuGet = new NuGetSpec { Packages = ["DepLib@1.5.0"], Sources = [fixture.Feed], Exact = true } } };

        var error = await Assert.ThrowsAsync<RuntimeEnvSetupException>(() => Cluster.Submit(() => NuGetTasks.DepLibVersion(), exact).DefaultTimeout());

        Assert.Equal("nuget", error.Field);
        Assert.Contains("the env asks for exact versions (nuget.exact), but DepLib 1.5.0 was asked for ('DepLib@1.5.0') and NuGet resolved 2.0.0",
            error.Message, StringComparison.Ordinal);
        Assert.Equal("DepLib 1.0.0.0", await Cluster.Submit(() => NuGetTasks.DepLibVersion(), With("DepLib@1.0.0")).DefaultTimeout());
    }

    [Fact]
    public async Task VersionRange_IsResolvedByNuGet()
    {
        Assert.Equal("DepLib 1.0.0.0", await Cluster.Submit(() => NuGetTasks.DepLibVersion(), With("DepLib@[1.0,2.0)")).DefaultTimeout());
    }

    [Fact]
    public async Task NativeAssetOfAPackage_ResolvesForDllImport()
    {
        var version = await Cluster.Submit(() => NuGetTasks.NativeZlibVersion(), With("Native.Version@1.0.0")).DefaultTimeout();

        Assert.Matches(@"^\d+\.\d+", version);
    }

    [Fact]
    public async Task NuGet_CombinesWithEnvVarsAndWorkingDir()
    {
        var dir = Directory.CreateTempSubdirectory("terrarium-nuget-wd-").FullName;
        File.WriteAllText(Path.Combine(dir, "note.txt"), "shipped");
        var env = With("DepLib@2.0.0").RuntimeEnv! with { WorkingDir = dir, EnvVars = new Dictionary<string, string> { ["MODE"] = "combined" } };

        var result = await Cluster.Submit(() => NuGetTasks.Combined("MODE", "note.txt"), new TaskOptions { RuntimeEnv = env }).DefaultTimeout();

        Assert.Equal("DepLib 2.0.0.0|combined|shipped", result);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public async Task UnknownPackage_FailsItsTasksNamingIt_WhileAGoodTaskSucceeds()
    {
        var bad = Cluster.Submit(() => NuGetTasks.DepLibVersion(), With("No.Such.Package@1.0.0"));
        var good = Cluster.Submit(() => NuGetTasks.DepLibVersion(), With("DepLib@1.0.0"));

        var error = await Assert.ThrowsAsync<RuntimeEnvSetupException>(() => bad.DefaultTimeout());

        Assert.Equal("nuget", error.Field);
        Assert.Contains("No.Such.Package", error.Message, StringComparison.Ordinal);
        Assert.Contains("NU1101", error.SetupLog, StringComparison.Ordinal);
        Assert.Equal("DepLib 1.0.0.0", await good.DefaultTimeout());
    }

    [Fact]
    public async Task UnsatisfiableRange_FailsNamingThePackage()
    {
        var error = await Assert.ThrowsAsync<RuntimeEnvSetupException>(
            () => Cluster.Submit(() => NuGetTasks.DepLibVersion(), With("DepLib@[9.0.0,)")).DefaultTimeout());

        Assert.Contains("DepLib", error.Message, StringComparison.Ordinal);
        Assert.Contains("9.0.0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SameEnvAgain_ReusesTheRestore_AndSoDoesTheSameSpecWithOtherEnvVars()
    {
        var options = With("DepLib@2.0.0", "DepLib.Consumer@1.0.0");
        await Cluster.Submit(() => NuGetTasks.DepLibVersion(), options).DefaultTimeout();
        var restores = await RestoresAsync();

        await Cluster.Submit(() => NuGetTasks.DepLibVersion(), options).DefaultTimeout();
        var otherVars = new TaskOptions { RuntimeEnv = options.RuntimeEnv! with { EnvVars = new Dictionary<string, string> { ["X"] = "1" } } };
        await Cluster.Submit(() => NuGetTasks.DepLibVersion(), otherVars).DefaultTimeout();

        Assert.Equal(restores, await RestoresAsync());
    }

    [Fact]
    public async Task NewSpec_WhosePackagesTheNodeHolds_RunsWithoutARestore()
    {
        await Cluster.Submit(() => NuGetTasks.ConsumerDescribe(), With("DepLib.Consumer@1.0.0")).DefaultTimeout();
        var restores = await RestoresAsync();

        var description = await Cluster.Submit(() => NuGetTasks.ConsumerDescribe(), With("DepLib.Consumer@[1.0.0]", "DepLib@[1.0.0]")).DefaultTimeout();

        Assert.Equal("consumer uses DepLib 1.0.0.0", description);
        Assert.Equal(restores, await RestoresAsync());
    }

    [Fact]
    public async Task FailedEnv_SubmittedAgainAtOnce_IsNotRebuilt()
    {
        var options = With("Missing.Again@1.0.0");
        await Assert.ThrowsAsync<RuntimeEnvSetupException>(() => Cluster.Submit(() => NuGetTasks.DepLibVersion(), options).DefaultTimeout());
        var restores = await RestoresAsync();

        var again = await Assert.ThrowsAsync<RuntimeEnvSetupException>(() => Cluster.Submit(() => NuGetTasks.DepLibVersion(), options).DefaultTimeout());

        Assert.Contains("Missing.Again", again.Message, StringComparison.Ordinal);
        Assert.Equal(restores, await RestoresAsync());
    }

    [Theory]
    [InlineData("Bad Id@1.0.0", "not a valid package id")]
    [InlineData("DepLib@not-a-version", "not a NuGet version or range")]
    [InlineData("DepLib@1.0.0", "more than once")]
    public void InvalidSpec_IsRefusedAtSubmission(string package, string expected)
    {
        var packages = expected == "more than once" ? new[] { package, "deplib@2.0.0" } : [package];

        var error = Assert.Throws<ArgumentException>(() => Cluster.Submit(() => NuGetTasks.DepLibVersion(), With(packages)));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    private async Task<int> RestoresAsync() => (await Cluster.GetStatusAsync().DefaultTimeout()).Nodes.Single().NuGetRestores;
}
