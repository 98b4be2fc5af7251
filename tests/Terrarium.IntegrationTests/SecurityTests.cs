using Mono.Unix.Native;

namespace Terrarium.IntegrationTests;

/// <summary>Another local user must not get in: private folders, owner-only files, a token no task can read.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SecurityTests : IDisposable
{
    private const UnixFileMode OwnerOnlyFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private readonly string _scratch = Directory.CreateTempSubdirectory("terrarium-security-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public async Task InitAsync_RuntimeFolderPlantedOpenToAll_IsRefused()
    {
        // Another user created the folder first, so that they could swap in their own node socket.
        var planted = Directory.CreateDirectory(Path.Combine(_scratch, "terrarium")).FullName;
        File.SetUnixFileMode(planted, (UnixFileMode)0b111_111_111);

        var error = await Assert.ThrowsAsync<UnauthorizedAccessException>(
            () => Cluster.InitAsync(new ClusterOptions { RuntimeDirectory = planted, LogToDriver = false }));

        Assert.Contains($"refusing to use '{planted}'", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(planted));
    }

    [Fact]
    public async Task EmbeddedCluster_SessionFolderSocketsAndWorkerLogs_AreTheUsersAlone_AndACrashedSessionIsRemoved()
    {
        var runtime = Path.Combine(_scratch, "runtime");
        var crashed = Directory.CreateDirectory(Path.Combine(runtime, "crashed00001")).FullName;
        File.WriteAllText(Path.Combine(crashed, "session.lock"), "");
        var umask = Syscall.umask(0);
        try
        {
            await using var cluster = await Cluster.InitAsync(new ClusterOptions { RuntimeDirectory = runtime, NumCpus = 1, LogToDriver = false }).DefaultTimeout();
            Assert.Equal(9, await cluster.Submit(() => TestTasks.Square(3)).DefaultTimeout());

            var session = Assert.Single(Directory.GetDirectories(runtime));
            Assert.Equal(OwnerOnlyFolder, File.GetUnixFileMode(runtime));
            Assert.Equal(OwnerOnlyFolder, File.GetUnixFileMode(session));
            Assert.All(Directory.GetFiles(session, "*.sock"), s => Assert.Equal(OwnerOnlyFile, File.GetUnixFileMode(s)));
            Assert.NotEmpty(Directory.GetFiles(session, "*.sock"));
            var logs = Directory.GetFiles(Path.Combine(session, "logs"));
            Assert.NotEmpty(logs);
            Assert.All(logs, l => Assert.Equal(OwnerOnlyFile, File.GetUnixFileMode(l)));
            Assert.False(Directory.Exists(crashed));
        }
        finally
        {
            Syscall.umask(umask);
        }
    }

    [Fact]
    public async Task Worker_ItsEnvironmentAndItsTasks_NeverSeeTheClusterToken()
    {
        const string token = "a-token-no-task-may-read-0123456789";
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { Token = token, NumCpus = 1, LogToDriver = false }).DefaultTimeout();

        var visible = await cluster.Submit(() => ProcessTasks.EnvironmentAsVisible()).DefaultTimeout();
        var visibleToAnActor = await cluster.CreateActor(() => new Counter(0)).Call(c => c.GetEnv("TERRARIUM_TOKEN")).DefaultTimeout();

        Assert.Contains("TERRARIUM_NODE_ADDRESS=", visible, StringComparison.Ordinal);
        Assert.DoesNotContain(token, visible, StringComparison.Ordinal);
        Assert.Null(visibleToAnActor);
    }
}
