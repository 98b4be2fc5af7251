using Mono.Unix.Native;

namespace Terrarium.IntegrationTests;

/// <summary>Input that used to take a driver, a worker or a connection down: each is refused or fails alone.</summary>
[Collection(ClusterCollection.Name)]
public sealed class InputLimitsTests(ClusterFixture fixture) : IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("terrarium-limits-").FullName;

    private Cluster Cluster => fixture.Cluster;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public async Task Submit_SelfReferencingArgument_IsArgumentException_AndTheClusterKeepsWorking()
    {
        var loop = new Node();
        loop.Next = loop;

        var error = Assert.Throws<ArgumentException>(() => Cluster.Submit(() => ProcessTasks.Count(loop)));

        Assert.Contains("argument 'node'", error.Message, StringComparison.Ordinal);
        Assert.Contains("nests deeper than 500 levels (does it refer to itself?)", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, await Cluster.Submit(() => ProcessTasks.Count(new Node { Next = new Node { Next = new Node() } })).DefaultTimeout());
    }

    [Fact]
    public async Task Submit_SelfReferencingResult_FailsTheTask_WithoutCrashingItsWorker()
    {
        var error = await Assert.ThrowsAsync<TaskFailedException>(() => Cluster.Submit(() => ProcessTasks.SelfReferencing(), new TaskOptions { MaxRetries = 3 }).DefaultTimeout());

        Assert.Contains("nests deeper than 500 levels", error.Message, StringComparison.Ordinal);
        Assert.Equal(16, await Cluster.Submit(() => TestTasks.Square(4)).DefaultTimeout());
    }

    [Fact]
    public async Task Submit_ArgumentsTooLargeForOneMessage_IsArgumentException_AndTheConnectionSurvives()
    {
        // Three arguments of 400 MiB: each fits, together they are over what one call may carry.
        var chunk = new byte[400 << 20];

        var error = Assert.Throws<ArgumentException>(() => Cluster.Submit(() => ProcessTasks.Length(chunk, chunk, chunk)));

        Assert.Contains("the arguments of ProcessTasks.Length", error.Message, StringComparison.Ordinal);
        Assert.Contains("over the 1024 MiB a value may be", error.Message, StringComparison.Ordinal);
        Assert.Equal(25, await Cluster.Submit(() => TestTasks.Square(5)).DefaultTimeout());
    }

    [Fact]
    public async Task Submit_WorkingDirWithANamedPipe_IsArgumentExceptionNamingIt_InsteadOfBlocking()
    {
        File.WriteAllText(Path.Combine(_scratch, "data.txt"), "data");
        Assert.Equal(0, Syscall.mkfifo(Path.Combine(_scratch, "events.pipe"), FilePermissions.DEFFILEMODE));
        var env = new RuntimeEnv { WorkingDir = _scratch };

        var error = await Task.Run(() => Assert.Throws<ArgumentException>(() => Cluster.Submit(() => FileTasks.Read("data.txt"), new TaskOptions { RuntimeEnv = env }))).DefaultTimeout();

        Assert.Contains("'events.pipe' is a named pipe (FIFO), not a regular file", error.Message, StringComparison.Ordinal);
        var excluded = env with { Excludes = ["*.pipe"] };
        Assert.Equal("data", await Cluster.Submit(() => FileTasks.Read("data.txt"), new TaskOptions { RuntimeEnv = excluded }).DefaultTimeout());
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/dev")]
    [InlineData("/proc/self")]
    [InlineData("/usr")]
    public void Submit_WorkingDirRootOrSystemFolder_IsArgumentException(string folder)
    {
        var env = new RuntimeEnv { WorkingDir = folder };

        var error = Assert.Throws<ArgumentException>(() => Cluster.Submit(() => TestTasks.Square(1), new TaskOptions { RuntimeEnv = env }));

        Assert.Contains("is the root or a system folder", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ActorWorker_HoldsNoInotifyInstance()
    {
        // Each instance counts against a per-user limit (128 by default): a watching worker per
        // actor capped a user at about 120 actors.
        var probe = Cluster.CreateActor(() => new ProcessProbe());

        Assert.Equal(0, await probe.Call(p => p.InotifyInstances()).DefaultTimeout());
        Assert.Equal(0, await Cluster.Submit(() => ProcessTasks.InotifyInstances()).DefaultTimeout());
        await probe.KillAsync();
    }

    [Fact]
    public async Task WorkingDir_ZipOfMoreEntriesThanANodeUnpacks_FailsItsTaskAtOnce_AndTheNodeGoesOn()
    {
        // 100,001 empty files: small on the wire, slow to unpack, and a node's inode budget.
        var zip = Path.Combine(_scratch, "many.zip");
        using (var archive = System.IO.Compression.ZipFile.Open(zip, System.IO.Compression.ZipArchiveMode.Create))
        {
            for (var i = 0; i <= 100_000; i++)
            {
                archive.CreateEntry($"f/{i}", System.IO.Compression.CompressionLevel.NoCompression);
            }
        }

        var env = new RuntimeEnv { WorkingDir = "file://" + zip };
        var error = await Assert.ThrowsAsync<RuntimeEnvSetupException>(() => Cluster.Submit(() => TestTasks.Square(2), new TaskOptions { RuntimeEnv = env }).DefaultTimeout());

        Assert.Contains("holds 100001 files and folders, more than the 100000 a node unpacks", error.Message, StringComparison.Ordinal);
        Assert.Equal(36, await Cluster.Submit(() => TestTasks.Square(6)).DefaultTimeout());
    }
}
