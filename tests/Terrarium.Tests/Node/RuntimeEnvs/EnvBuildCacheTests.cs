using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Terrarium.Node;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.RuntimeEnvs.Conda;
using Terrarium.Node.RuntimeEnvs.Config;
using Terrarium.Node.RuntimeEnvs.EnvVars;

namespace Terrarium.Tests.Node.RuntimeEnvs;

/// <summary>
/// Builds per env hash on the node's clock: a failed build is remembered for the retry delay (no
/// rebuild loop), then built again. The env is a real <c>conda</c> prefix that the test makes valid.
/// </summary>
public sealed class EnvBuildCacheTests : IDisposable
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _clock = new();
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("terrarium-builds-");
    private readonly EnvBuildCache _builds;

    public EnvBuildCacheTests()
    {
        var options = new NodeOptions { TimeProvider = _clock, FailedSetupRetryDelay = RetryDelay, CacheDirectory = _root.FullName };
        _builds = new EnvBuildCache(options, [new CondaPreparer(options, NullLogger<CondaPreparer>.Instance), new EnvVarsPreparer()], NullLogger<EnvBuildCache>.Instance);
    }

    [Fact]
    public async Task FailedBuild_IsRemembered_UntilTheRetryDelayHasPassed_ThenBuiltAgain()
    {
        var prefix = Path.Combine(_root.FullName, "env");
        var json = $$"""{"conda":"{{prefix}}"}""";
        var first = await Assert.ThrowsAsync<RuntimeEnvSetupFailure>(() => _builds.PrepareAsync("hash-1", json, null, CancellationToken.None));
        Assert.Contains("is not a conda environment", first.Message, StringComparison.Ordinal);

        // Fixed on disk, but within the delay the node answers with the failure it remembers.
        Directory.CreateDirectory(Path.Combine(prefix, "conda-meta"));
        _clock.Advance(RetryDelay - TimeSpan.FromSeconds(1));
        await Assert.ThrowsAsync<RuntimeEnvSetupFailure>(() => _builds.PrepareAsync("hash-1", json, null, CancellationToken.None));

        _clock.Advance(TimeSpan.FromSeconds(2));
        var env = await _builds.PrepareAsync("hash-1", json, null, CancellationToken.None);

        Assert.Equal(prefix, env.EnvVars["CONDA_PREFIX"]);
        Assert.Equal("ready", _builds.List().Single().State);
    }

    [Fact]
    public async Task FailedBuild_CarriesItsWholeSetupLog_WhichTheNodeKeepsOnDisk_BuildAfterBuild()
    {
        var prefix = Path.Combine(_root.FullName, "env");
        var json = $$"""{"conda":"{{prefix}}"}""";

        var failure = await Assert.ThrowsAsync<RuntimeEnvSetupFailure>(() => _builds.PrepareAsync("hash-1", json, null, CancellationToken.None));
        Directory.CreateDirectory(Path.Combine(prefix, "conda-meta"));
        _clock.Advance(RetryDelay + TimeSpan.FromSeconds(1));
        await _builds.PrepareAsync("hash-1", json, null, CancellationToken.None);

        Assert.Matches(@"env\s+setting up env hash-1 on node", failure.Log);
        Assert.Matches(@"conda\s+started", failure.Log);
        Assert.Matches(@"conda\s+failed after [0-9.]+ s: .*is not a conda environment", failure.Log);
        var file = await File.ReadAllTextAsync(Path.Combine(_builds.LogFolder, "hash-1.log"));
        Assert.Contains(failure.Log, file, StringComparison.Ordinal);
        Assert.Equal(2, file.Split('\n').Count(l => l.Contains("setting up env hash-1", StringComparison.Ordinal)));
        Assert.Matches(@"conda\s+done in [0-9.]+ s", file);
        Assert.Matches(@"env\s+ready in [0-9.]+ s", file);
    }

    [Fact]
    public async Task SameHash_IsBuiltOnce()
    {
        var prefix = Path.Combine(_root.FullName, "env");
        Directory.CreateDirectory(Path.Combine(prefix, "conda-meta"));
        var json = $$"""{"conda":"{{prefix}}"}""";

        var first = await _builds.PrepareAsync("hash-1", json, null, CancellationToken.None);
        var second = await _builds.PrepareAsync("hash-1", json, null, CancellationToken.None);

        Assert.Same(first, second);
    }

    [Fact]
    public async Task UsersEnvVars_WinOverWhatAnotherFieldSets()
    {
        var prefix = Path.Combine(_root.FullName, "env");
        Directory.CreateDirectory(Path.Combine(prefix, "conda-meta"));
        var json = $$$"""{"conda":"{{{prefix}}}","env_vars":{"CONDA_DEFAULT_ENV":"mine","OTHER":"1"}}""";

        var env = await _builds.PrepareAsync("hash-1", json, null, CancellationToken.None);

        Assert.Equal("mine", env.EnvVars["CONDA_DEFAULT_ENV"]);
        Assert.Equal(prefix, env.EnvVars["CONDA_PREFIX"]);
        Assert.Equal("1", env.EnvVars["OTHER"]);
    }

    [Fact]
    public async Task FieldThisNodeDoesNotPrepare_FailsNamingIt_BeforeAnyFieldIsPrepared()
    {
        var prefix = Path.Combine(_root.FullName, "env");
        var json = $$"""{"conda":"{{prefix}}","nuget":["A@1.0.0"]}""";

        var failure = await Assert.ThrowsAsync<RuntimeEnvSetupFailure>(() => _builds.PrepareAsync("hash-1", json, null, CancellationToken.None));

        Assert.Equal("nuget", failure.Field);
        Assert.Contains("'nuget' is not supported by node", failure.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"conda":5}""", "runtime_env.conda")]
    [InlineData("""{"env_vars":{"A":1}}""", "runtime_env.env_vars.A")]
    [InlineData("""{"config":{"setup_timeout_seconds":0}}""", "runtime_env.config.setup_timeout_seconds")]
    [InlineData("""{"env_vars":{"TERRARIUM_TOKEN":"planted"}}""", "names starting with TERRARIUM_ are reserved")]
    [InlineData("""{"env_vars":{"A=B":"1"}}""", "invalid variable name 'A=B'")]
    public async Task ValueTheSharedModelRefuses_FailsTheSetupNamingWhy(string json, string named)
    {
        var options = new NodeOptions { CacheDirectory = _root.FullName };
        var builds = new EnvBuildCache(options, [new CondaPreparer(options, NullLogger<CondaPreparer>.Instance), new EnvVarsPreparer(), new ConfigPreparer()],
            NullLogger<EnvBuildCache>.Instance);

        var failure = await Assert.ThrowsAsync<RuntimeEnvSetupFailure>(() => builds.PrepareAsync("hash-1", json, null, CancellationToken.None));

        Assert.Contains(named, failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("(Parameter", failure.Message, StringComparison.Ordinal);
    }

    public void Dispose() => _root.Delete(recursive: true);
}
