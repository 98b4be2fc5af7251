using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.RuntimeEnvs.NuGetPackages;

namespace Terrarium.Tests.Node.RuntimeEnvs.NuGetPackages;

/// <summary>The node checks again what a client sends into its restore: a client need not be this library.</summary>
public sealed class NuGetRestorerTests
{
    [Theory]
    [InlineData("https://feed.example/v3/index.json;RestorePackagesPath=/tmp/evil", false)]
    [InlineData("/tmp/feed", false)]
    [InlineData("file:///tmp/feed", false)]
    [InlineData("relative/feed", true)]
    public void CheckSource_NotAFeedUrlNorAShippedFolder_IsRefused(string source, bool shipped)
    {
        var error = Assert.Throws<RuntimeEnvSetupFailure>(() => NuGetRestorer.CheckSource(source, shipped));

        Assert.Contains($"source '{source}' is not an https:// or http:// feed URL", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://api.nuget.org/v3/index.json", false)]
    [InlineData("/home/u/.cache/terrarium/packages/abc", true)]
    public void CheckSource_FeedUrlOrShippedFolder_IsAccepted(string source, bool shipped) => NuGetRestorer.CheckSource(source, shipped);

    [Theory]
    [InlineData("Newtonsoft.Json@13.0.3;x")]
    [InlineData("A\" Include=\"$(Evil)")]
    [InlineData("Newtonsoft.Json@$(RestorePackagesPath)")]
    public void CheckPackage_NotAnIdWithAVersion_IsRefused(string spec) =>
        Assert.Throws<RuntimeEnvSetupFailure>(() => NuGetRestorer.CheckPackage(spec));

    [Fact]
    public void EscapeForMSBuild_LeavesNoSeparatorOrExpression()
    {
        var escaped = NuGetRestorer.EscapeForMSBuild("https://x/a;b=$(P)@(I)%(M)'*?");

        Assert.Equal("https://x/a%3Bb=%24%28P%29%40%28I%29%25%28M%29%27%2A%3F", escaped);
    }
}
