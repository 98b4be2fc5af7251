using Microsoft.Extensions.Logging.Abstractions;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.RuntimeEnvs.NuGetPackages;

namespace Terrarium.Tests.Node.RuntimeEnvs.NuGetPackages;

public sealed class NuGetPreparerTests : IDisposable
{
    private readonly NodeCache _cache = new();

    public void Dispose() => _cache.Dispose();

    [Theory]
    [InlineData("/srv/feed")]
    [InlineData("ftp://feed.example/v3/index.json")]
    public async Task SourceThatIsNeitherAFeedUrlNorAShippedFolder_FailsBeforeAnyRestore(string source)
    {
        var restorer = new NuGetRestorer(_cache.Options, NullLogger<NuGetRestorer>.Instance);
        var preparer = new NuGetPreparer(_cache.Packages, restorer);

        var failure = await Assert.ThrowsAsync<RuntimeEnvSetupFailure>(() =>
            preparer.PrepareAsync(new RuntimeEnv { NuGet = new NuGetSpec { Packages = ["A@1.0.0"], Sources = [source] } }, null, CancellationToken.None));

        Assert.Equal("nuget", failure.Field);
        Assert.Contains($"source '{source}' is not an https:// or http:// feed URL or a shipped folder", failure.Message, StringComparison.Ordinal);
        Assert.Equal(0, restorer.RestoresRun);
    }
}
