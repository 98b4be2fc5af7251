using Microsoft.Extensions.Logging.Abstractions;
using Terrarium.Node;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.RuntimeEnvs.Container;

namespace Terrarium.Tests.Node.RuntimeEnvs.Container;

/// <summary>What the container preparer refuses before it runs anything: the runtime is a command that does not exist, so any call to it would fail differently.</summary>
public sealed class ContainerPreparerTests : IDisposable
{
    private readonly NodeCache _cache = new();

    public void Dispose() => _cache.Dispose();

    [Theory]
    [InlineData("--privileged", new string[0], "is not an image reference")]
    [InlineData("debian:12", new[] { "--privileged" }, "is refused by node node-test's container policy")]
    [InlineData("debian:12", new[] { "--network=none" }, "is set by Terrarium itself")]
    public async Task ImageOrRunOptionsItMayNotUse_FailTheSetupOfContainer_WithoutCallingTheRuntime(string image, string[] runOptions, string expected)
    {
        var options = new NodeOptions
        {
            NodeId = "node-test", CacheDirectory = _cache.Options.CacheDirectory, Containers = new ContainerRuntimeOptions { Command = "/no/such/podman" },
        };
        var preparer = new ContainerPreparer(options, new ContainerCommand(options), new PulledImages(options, new ContainerCommand(options), NullLogger<PulledImages>.Instance),
            NullLogger<ContainerPreparer>.Instance);

        var failure = await Assert.ThrowsAsync<RuntimeEnvSetupFailure>(() =>
            preparer.PrepareAsync(new RuntimeEnv { Container = new ContainerSpec { Image = image, RunOptions = runOptions } }, null, CancellationToken.None));

        Assert.Equal("container", failure.Field);
        Assert.Contains(expected, failure.Message, StringComparison.Ordinal);
        Assert.True(preparer.SetsLauncher);
    }
}
