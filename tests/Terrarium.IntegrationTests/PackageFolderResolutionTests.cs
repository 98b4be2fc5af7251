using Microsoft.Extensions.Logging.Abstractions;
using Terrarium.Node;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.RuntimeEnvs.NuGetPackages;

namespace Terrarium.IntegrationTests;

/// <summary>The local feed, built once, and a NuGet.Config that knows no other source.</summary>
public sealed class LocalFeedFixture : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("terrarium-folder-resolution-");

    public LocalFeedFixture()
    {
        LocalFeed.Build(Feed);
        LocalFeed.WriteIsolatedNuGetConfig(Config);
    }

    public string Feed => Path.Combine(_root.FullName, "feed");

    public string Config => Path.Combine(_root.FullName, "NuGet.Config");

    /// <summary>A restorer for a node with a cache of its own.</summary>
    internal NuGetRestorer NewNode() => new(new NodeOptions
    {
        CacheDirectory = _root.CreateSubdirectory("node-" + Guid.NewGuid().ToString("N")).FullName,
        WorkerHost = new WorkerHostCommand(WorkerHostCommand.CurrentDotnet(), typeof(Cluster).Assembly.Location),
        NuGetConfigFile = Config,
    }, NullLogger<NuGetRestorer>.Instance);

    public void Dispose() => _root.Delete(recursive: true);
}

/// <summary>
/// A new spec whose packages the node's folder holds is resolved in process. These tests hold it to
/// the SDK's restore: the same packages, versions and files, or a real restore when NuGet's answer
/// could differ.
/// </summary>
public sealed class PackageFolderResolutionTests(LocalFeedFixture feed) : IClassFixture<LocalFeedFixture>
{
    [Theory]
    [InlineData("DepLib@1.0.0")]
    [InlineData("DepLib.Consumer@1.0.0")]
    [InlineData("Native.Version@1.0.0")]
    [InlineData("Cousin.Low@1.0.0", "Cousin.High@1.0.0")]
    [InlineData("Rid.Specific@1.0.0")]
    [InlineData("Multi.Target@1.0.0")]
    [InlineData("DepLib.Consumer@1.0.0", "Rid.Specific@1.0.0", "Native.Version@1.0.0")]
    public async Task CachedPackages_ResolveWithoutARestore_ToWhatTheRestoreChose(params string[] packages)
    {
        var node = feed.NewNode();
        var restored = await node.RestoreAsync(packages, [feed.Feed], CancellationToken.None).DefaultTimeout();
        Assert.Equal(1, node.RestoresRun);

        // "Id@[v, )" is the same range as "Id@v", but a new spec to the node.
        var sameRanges = packages.Select(p => p.Replace("@", "@[", StringComparison.Ordinal) + ", )").ToList();
        var resolved = await node.RestoreAsync(sameRanges, [feed.Feed], CancellationToken.None).DefaultTimeout();

        Assert.Equal(1, node.RestoresRun);
        Assert.Equal(Describe(restored), Describe(resolved));
    }

    [Fact]
    public async Task RidSpecificBuild_AndNoForeignNativeLibrary_AreWhatBothPick()
    {
        var node = feed.NewNode();
        await node.RestoreAsync(["Rid.Specific@1.0.0"], [feed.Feed], CancellationToken.None).DefaultTimeout();

        var resolved = await node.RestoreAsync(["Rid.Specific@[1.0.0]"], [feed.Feed], CancellationToken.None).DefaultTimeout();

        Assert.EndsWith("runtimes/linux-x64/lib/net8.0/RidSpecific.dll", resolved.Assemblies["RidSpecific"].Replace('\\', '/'), StringComparison.Ordinal);
        Assert.Empty(resolved.NativeLibraries);
    }

    [Fact]
    public async Task CousinDependencies_TakeTheHigherVersion()
    {
        var node = feed.NewNode();
        await node.RestoreAsync(["Cousin.Low@1.0.0", "Cousin.High@1.0.0"], [feed.Feed], CancellationToken.None).DefaultTimeout();

        var resolved = await node.RestoreAsync(["Cousin.High@[1.0.0]", "Cousin.Low@[1.0.0]"], [feed.Feed], CancellationToken.None).DefaultTimeout();

        Assert.Equal(1, node.RestoresRun);
        Assert.Equal("2.0.0", resolved.Packages.Single(p => p.Id == "DepLib").Version);
    }

    [Theory]
    [InlineData("DepLib")] // floats to the newest version: only the sources know it
    [InlineData("DepLib@(1.0.0, )")] // the lowest version above 1.0.0: only the sources know it
    [InlineData("Old.Framework@[1.0.0, )")] // net472 assets only: the SDK's fallback decides
    public async Task SpecsWhoseAnswerTheSourcesOrTheSdkDecide_AreRestored(string spec)
    {
        var node = feed.NewNode();
        foreach (var cached in new[] { "DepLib@1.0.0", "DepLib@2.0.0", "Old.Framework@1.0.0" })
        {
            await node.RestoreAsync([cached], [feed.Feed], CancellationToken.None).DefaultTimeout();
        }

        var restores = node.RestoresRun;

        await node.RestoreAsync([spec], [feed.Feed], CancellationToken.None).DefaultTimeout();

        Assert.Equal(restores + 1, node.RestoresRun);
    }

    [Fact]
    public async Task ADowngrade_IsLeftToTheRestore_WhichRefusesIt()
    {
        var node = feed.NewNode();
        await node.RestoreAsync(["DepLib@1.0.0"], [feed.Feed], CancellationToken.None).DefaultTimeout();
        await node.RestoreAsync(["Cousin.High@1.0.0"], [feed.Feed], CancellationToken.None).DefaultTimeout();

        var error = await Assert.ThrowsAsync<RuntimeEnvSetupFailure>(() =>
            node.RestoreAsync(["DepLib@1.0.0", "Cousin.High@1.0.0"], [feed.Feed], CancellationToken.None).DefaultTimeout());

        Assert.Equal(3, node.RestoresRun);
        Assert.Contains("NU1605", error.Message, StringComparison.Ordinal);
    }

    private static string Describe(NuGetEnvironment environment) => string.Join("\n",
        environment.Packages.OrderBy(p => p.Id, StringComparer.OrdinalIgnoreCase).Select(p => $"{p.Id} {p.Version}: {string.Join(", ", p.Assets.Order(StringComparer.Ordinal))}")
            .Concat(environment.Assemblies.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"assembly {a.Key} = {a.Value}"))
            .Concat(environment.NativeLibraries.OrderBy(n => n.Key, StringComparer.Ordinal).Select(n => $"native {n.Key} = {n.Value}")));
}
