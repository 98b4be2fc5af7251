using System.Diagnostics;
using System.IO.Compression;

namespace Terrarium.IntegrationTests;

/// <summary>
/// An env's setup that fails in a way no preparer expected — a full disk, a tool that prints
/// nonsense — fails the work that waits for it, saying what happened, and is tried again later;
/// nothing waits for ever.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SetupFailureTests : IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("terrarium-setup-failure-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [SkippableFact]
    public async Task WorkingDir_UnpackedOntoAFullDisk_FailsItsTaskSayingSo_AndIsSetUpOnceThereIsRoom()
    {
        Requirements.Root();
        Requirements.Tool("mount", "the test gives the node's cache a small tmpfs of its own (util-linux)");
        var disk = Directory.CreateDirectory(Path.Combine(_scratch, "disk")).FullName;
        await RunAsync("mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", disk);
        try
        {
            // 60 MiB of zeros: a zip of a few KiB that does not fit the 40 MiB disk once unpacked.
            var zip = Path.Combine(_scratch, "big.zip");
            using (var archive = ZipFile.Open(zip, ZipArchiveMode.Create))
            {
                await using (var data = archive.CreateEntry("data.bin").Open())
                {
                    var zeros = new byte[1 << 20];
                    for (var i = 0; i < 60; i++)
                    {
                        await data.WriteAsync(zeros);
                    }
                }

                await using var hello = new StreamWriter(archive.CreateEntry("hello.txt").Open());
                await hello.WriteAsync("unpacked");
            }

            await using var cluster = await StandaloneCluster.StartAsync(failedSetupRetryDelay: TimeSpan.FromSeconds(1), cacheDirectory: Path.Combine(disk, "cache"));
            await using var driver = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout();
            var env = new TaskOptions { RuntimeEnv = new RuntimeEnv { WorkingDir = "file://" + zip } };

            var error = await Assert.ThrowsAsync<RuntimeEnvSetupException>(() => driver.Submit(() => FileTasks.Read("hello.txt"), env).DefaultTimeout());

            Assert.Equal("working_dir", error.Field);
            Assert.Contains("the node's disk is full", error.Message, StringComparison.Ordinal);
            Assert.Equal(9, await driver.Submit(() => TestTasks.Square(3)).DefaultTimeout());
            await RunAsync("mount", "-o", "remount,size=200m", disk);
            await TestWaits.UntilAsync(async () =>
            {
                try
                {
                    return await driver.Submit(() => FileTasks.Read("hello.txt"), env).DefaultTimeout() == "unpacked";
                }
                catch (RuntimeEnvSetupException)
                {
                    return false;
                }
            }, "the env to be set up again once the disk has room");
        }
        finally
        {
            await RunAsync("umount", "--lazy", disk);
        }
    }

    [SkippableTheory]
    [InlineData("this is not JSON")]
    [InlineData("{\"environments\": []}")]
    public async Task CondaByName_WithAToolThatPrintsNonsense_FailsNamingTheTool_AndTheNodeGoesOn(string printed)
    {
        var tool = Path.Combine(_scratch, "conda");
        await File.WriteAllTextAsync(tool, $"#!/bin/sh\ncat <<'EOF'\n{printed}\nEOF\n");
        File.SetUnixFileMode(tool, (UnixFileMode)0b111_101_101);
        await using var cluster = await Cluster.InitAsync(new ClusterOptions
        {
            NumCpus = 1,
            LogToDriver = false,
            CacheDirectory = Path.Combine(_scratch, "cache"),
            Python = new Terrarium.Node.PythonOptions { CondaCommand = tool },
        }).DefaultTimeout();
        var byName = new TaskOptions { RuntimeEnv = new RuntimeEnv { Conda = new CondaSpec { Environment = "analytics" } } };

        var error = await Assert.ThrowsAsync<RuntimeEnvSetupException>(() => cluster.Submit(() => TestTasks.Square(2), byName).DefaultTimeout());
        var actor = await Assert.ThrowsAsync<RuntimeEnvSetupException>(() =>
            cluster.CreateActor(() => new Counter(0), new ActorOptions { RuntimeEnv = byName.RuntimeEnv }).Call(c => c.Increment(0)).DefaultTimeout());

        Assert.Equal("conda", error.Field);
        Assert.Contains($"'{tool} env list --json' did not print conda's list of environments", error.Message, StringComparison.Ordinal);
        Assert.Contains(printed.Split(' ')[0], error.Message, StringComparison.Ordinal);
        Assert.Equal("conda", actor.Field);
        Assert.Equal(16, await cluster.Submit(() => TestTasks.Square(4)).DefaultTimeout());
    }

    private static async Task RunAsync(string command, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(command, arguments) { RedirectStandardError = true, UseShellExecute = false })!;
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{command} {string.Join(' ', arguments)} failed: {await errors}");
        }
    }
}
