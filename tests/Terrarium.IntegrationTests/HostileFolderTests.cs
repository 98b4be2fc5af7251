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

    [SkippableFact]
    public async Task PipEnv_BuiltByADaemonStartedInAFolderAnotherUserWrites_ImportsNoneOfTheirModules()
    {
        AnotherUser.Require();
        PythonWheels.RequireVenv();
        await using var cluster = await CliCluster.StartAsync(null);
        File.SetUnixFileMode(cluster.Scratch, (UnixFileMode)0b111_101_101);
        var shared = Directory.CreateDirectory(Path.Combine(cluster.Scratch, "shared")).FullName;
        File.SetUnixFileMode(shared, Sticky);
        var marker = Path.Combine(shared, "ran-as-the-node");
        // Python puts the working directory first on its path: a venv.py there would be `python -m venv`.
        foreach (var module in new[] { "venv.py", "pip.py", "json.py" })
        {
            await File.WriteAllTextAsync(Path.Combine(shared, module), $"open('{marker}', 'a').write('{module}\\n')\n");
        }

        await ChownToAnotherUserAsync(shared);
        var wheels = Path.Combine(cluster.Scratch, "wheels");
        PythonWheels.Build(wheels, "terrariumdemo", "1.0");

        cluster.WorkingDirectory = shared;
        await cluster.StartHeadAsync("{}");
        await using var driver = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout();
        var pip = new TaskOptions { RuntimeEnv = new RuntimeEnv { Pip = new PipSpec { Packages = ["terrariumdemo==1.0"], InstallOptions = ["--no-index", "--find-links", wheels] } } };

        Assert.Equal("1.0", await driver.Submit(() => PythonTasks.ImportVersion("terrariumdemo"), pip).DefaultTimeout());
        Assert.False(File.Exists(marker), File.Exists(marker) ? "ran: " + await File.ReadAllTextAsync(marker) : "");
    }

    [SkippableFact]
    public async Task CondaPrefix_InAFolderAnotherUserCanWrite_IsRefused_AndItsPythonNeverRuns()
    {
        AnotherUser.Require();
        var scratch = Directory.CreateTempSubdirectory("terrarium-conda-").FullName;
        try
        {
            File.SetUnixFileMode(scratch, (UnixFileMode)0b111_101_101);
            var theirs = Directory.CreateDirectory(Path.Combine(scratch, "theirs")).FullName;
            var prefix = Path.Combine(theirs, "envs", "analytics");
            Directory.CreateDirectory(Path.Combine(prefix, "conda-meta"));
            Directory.CreateDirectory(Path.Combine(prefix, "bin"));
            var marker = Path.Combine(theirs, "ran-as-the-node");
            var python = Path.Combine(prefix, "bin", "python");
            await File.WriteAllTextAsync(python, $"#!/bin/sh\ntouch {marker}\nexec /usr/bin/python3 \"$@\"\n");
            File.SetUnixFileMode(python, (UnixFileMode)0b111_101_101);
            await ChownToAnotherUserAsync(theirs, includeFolder: true);
            await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 1, LogToDriver = false, CacheDirectory = Path.Combine(scratch, "cache") });

            var error = await Assert.ThrowsAsync<RuntimeEnvSetupException>(() =>
                cluster.Submit(() => PythonTasks.CondaActivation(), new TaskOptions { RuntimeEnv = new RuntimeEnv { Conda = new CondaSpec { Environment = prefix } } }).DefaultTimeout());

            Assert.Equal("conda", error.Field);
            Assert.Contains($"refusing conda environment '{prefix}'", error.Message, StringComparison.Ordinal);
            Assert.Contains($"belongs to uid {AnotherUser.Uid}, neither root nor this node's user", error.Message, StringComparison.Ordinal);
            Assert.False(File.Exists(marker), "the prefix's python ran");
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    [SkippableFact]
    public async Task HeadStorageDir_MadeByAnotherUser_IsRefused_AndTheHeadsOwnIsPrivate()
    {
        AnotherUser.Require();
        await using var cluster = await CliCluster.StartAsync(null);
        File.SetUnixFileMode(cluster.Scratch, (UnixFileMode)0b111_101_101);
        var planted = Directory.CreateDirectory(Path.Combine(cluster.Scratch, "planted-store")).FullName;
        File.SetUnixFileMode(planted, (UnixFileMode)0b111_111_111);
        await ChownToAnotherUserAsync(planted, includeFolder: true);

        var refused = await cluster.RunAsync("start", "--head", "--port", "0", "--num-cpus", "0", "--token", CliCluster.Token, "--storage-dir", planted, "--block");

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains($"refusing to use '{planted}': it is owned by uid {AnotherUser.Uid}", refused.Stderr, StringComparison.Ordinal);
        var store = Path.Combine(cluster.Scratch, "store");
        await cluster.StartHeadAsync("{}", "--storage-dir", store);
        await using var driver = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout();
        var code = Directory.CreateDirectory(Path.Combine(cluster.Scratch, "code")).FullName;
        await File.WriteAllTextAsync(Path.Combine(code, "data.txt"), "private");
        Assert.Equal("private", await driver.Submit(() => FileTasks.Read("data.txt"), new TaskOptions { RuntimeEnv = new RuntimeEnv { WorkingDir = code } }).DefaultTimeout());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(store));
        var zips = Directory.GetFiles(Path.Combine(store, "packages"));
        Assert.NotEmpty(zips);
        Assert.All(zips, z => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(z)));
    }

    private static async Task ChownToAnotherUserAsync(string folder, bool includeFolder = false)
    {
        using var chown = Process.Start("chown", ["-R", $"{AnotherUser.Uid}:{AnotherUser.Uid}", .. includeFolder ? [folder] : Directory.GetFileSystemEntries(folder)])!;
        await chown.WaitForExitAsync();
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

        await ChownToAnotherUserAsync(shared);
    }
}
