using System.Diagnostics;

namespace Terrarium.IntegrationTests;

/// <summary>
/// A node's cache under a folder other users can write (as <c>/tmp</c> is): what another user plants
/// in the folders above it must never run, nor change what the node builds.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class HostileFolderTests
{
    private const UnixFileMode Sticky = (UnixFileMode)0b1_111_111_111;

    [SkippableTheory]
    [InlineData("Directory.Build.rsp")]
    [InlineData("NuGet.Config")]
    [InlineData("global.json")]
    public async Task NuGetRestore_UnderAFolderAnotherUserWrites_IgnoresWhatTheyPlantAbove(string planted)
    {
        AnotherUser.Require();
        await using var cluster = await CliCluster.StartAsync(null);
        File.SetUnixFileMode(cluster.Scratch, (UnixFileMode)0b111_101_101);
        var shared = Directory.CreateDirectory(Path.Combine(cluster.Scratch, "shared")).FullName;
        File.SetUnixFileMode(shared, Sticky);
        // The node user's own NuGet config knows no public feed; the env brings its feed.
        var home = Path.Combine(cluster.Scratch, "home");
        Directory.CreateDirectory(Path.Combine(home, ".nuget", "NuGet"));
        LocalFeed.WriteIsolatedNuGetConfig(Path.Combine(home, ".nuget", "NuGet", "NuGet.Config"));
        var feed = Path.Combine(cluster.Scratch, "feed");
        LocalFeed.Build(feed);
        var marker = Path.Combine(shared, "ran-as-the-node");
        await PlantAsync(shared, planted, marker);

        cluster.Environment["HOME"] = home;
        cluster.CacheRoot = shared;
        await cluster.StartHeadAsync("{}");
        await using var driver = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout();
        var floating = new TaskOptions { RuntimeEnv = new RuntimeEnv { NuGet = new NuGetSpec { Packages = ["DepLib@*"], Sources = [feed] } } };

        Assert.Equal("DepLib 2.0.0.0", await driver.Submit(() => NuGetTasks.DepLibVersion(), floating).DefaultTimeout());
        Assert.False(File.Exists(marker), "the planted response file's targets ran");
    }

    /// <summary>What another user leaves in the folder above the cache, owned by them.</summary>
    private static async Task PlantAsync(string shared, string planted, string marker)
    {
        switch (planted)
        {
            case "Directory.Build.rsp":
                // MSBuild reads response files upwards: this one imports a target that runs first.
                await File.WriteAllTextAsync(Path.Combine(shared, "evil.props"), $"""
                    <Project InitialTargets="Evil">
                      <Target Name="Evil"><WriteLinesToFile File="{marker}" Lines="$([System.Environment]::UserName)" /></Target>
                    </Project>
                    """);
                await File.WriteAllTextAsync(Path.Combine(shared, planted), $"-p:CustomBeforeMicrosoftCommonProps={Path.Combine(shared, "evil.props")}");
                break;
            case "NuGet.Config":
                // NuGet gathers configs upwards: this one clears the sources and offers a DepLib of its own, newer than any.
                var evilFeed = Path.Combine(shared, "evil-feed");
                LocalFeed.BuildDepLib(evilFeed, "9.9.9");
                await File.WriteAllTextAsync(Path.Combine(shared, planted), $"""
                    <configuration><packageSources><clear /><add key="evil" value="{evilFeed}" /></packageSources></configuration>
                    """);
                break;
            default:
                // The host reads global.json upwards: this one asks for an SDK that does not exist.
                await File.WriteAllTextAsync(Path.Combine(shared, planted), """{"sdk":{"version":"1.0.100","rollForward":"disable"}}""");
                break;
        }

        using var chown = Process.Start("chown", ["-R", $"{AnotherUser.Uid}:{AnotherUser.Uid}", .. Directory.GetFileSystemEntries(shared)])!;
        await chown.WaitForExitAsync();
    }
}
