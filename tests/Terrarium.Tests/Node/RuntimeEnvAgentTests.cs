using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Terrarium.Node;
using Terrarium.Node.Internal;
using Terrarium.Node.Internal.RuntimeEnvs;

namespace Terrarium.Tests.Node;

/// <summary>
/// Builds per env hash on the node's clock: a failed build is remembered for the retry delay (no
/// rebuild loop), then built again. The env is a real <c>conda</c> prefix that the test makes valid.
/// </summary>
public sealed class RuntimeEnvAgentTests : IDisposable
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _clock = new();
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("terrarium-agent-");
    private readonly RuntimeEnvAgent _agent;

    public RuntimeEnvAgentTests()
    {
        var options = new NodeOptions { TimeProvider = _clock, FailedSetupRetryDelay = RetryDelay, CacheDirectory = _root.FullName };
        _agent = new RuntimeEnvAgent(options, [new CondaPreparer(options, NullLogger<CondaPreparer>.Instance)], NullLogger<RuntimeEnvAgent>.Instance);
    }

    [Fact]
    public async Task FailedBuild_IsRemembered_UntilTheRetryDelayHasPassed_ThenBuiltAgain()
    {
        var prefix = Path.Combine(_root.FullName, "env");
        var json = $$"""{"conda":"{{prefix}}"}""";
        var first = await Assert.ThrowsAsync<RuntimeEnvSetupFailure>(() => _agent.PrepareAsync("hash-1", json, CancellationToken.None));
        Assert.Contains("is not a conda environment", first.Message, StringComparison.Ordinal);

        // Fixed on disk, but within the delay the node answers with the failure it remembers.
        Directory.CreateDirectory(Path.Combine(prefix, "conda-meta"));
        _clock.Advance(RetryDelay - TimeSpan.FromSeconds(1));
        await Assert.ThrowsAsync<RuntimeEnvSetupFailure>(() => _agent.PrepareAsync("hash-1", json, CancellationToken.None));

        _clock.Advance(TimeSpan.FromSeconds(2));
        var env = await _agent.PrepareAsync("hash-1", json, CancellationToken.None);

        Assert.Equal(prefix, env.EnvVars["CONDA_PREFIX"]);
        Assert.Equal("ready", _agent.List().Single().State);
    }

    [Fact]
    public async Task SameHash_IsBuiltOnce()
    {
        var prefix = Path.Combine(_root.FullName, "env");
        Directory.CreateDirectory(Path.Combine(prefix, "conda-meta"));
        var json = $$"""{"conda":"{{prefix}}"}""";

        var first = await _agent.PrepareAsync("hash-1", json, CancellationToken.None);
        var second = await _agent.PrepareAsync("hash-1", json, CancellationToken.None);

        Assert.Same(first, second);
    }

    public void Dispose() => _root.Delete(recursive: true);
}
