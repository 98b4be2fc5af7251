namespace Terrarium.IntegrationTests;

[Collection(ClusterCollection.Name)]
public sealed class FailureTests(ClusterFixture fixture) : IDisposable
{
    private readonly string _markers = Directory.CreateTempSubdirectory("terrarium-markers-").FullName;

    private Cluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Submit_WorkerExits_WithoutRetries_ThrowsWorkerCrashedWithExitCode()
    {
        var error = await Assert.ThrowsAsync<WorkerCrashedException>(
            () => Cluster.Submit(() => TestTasks.Exit(3), new TaskOptions { MaxRetries = 0 }).DefaultTimeout());

        Assert.Equal(3, error.ExitCode);
        Assert.Contains("exited with code 3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_WorkerExitsEveryTime_FailsAfterTheRetriesAllowed()
    {
        var error = await Assert.ThrowsAsync<WorkerCrashedException>(
            () => Cluster.Submit(() => TestTasks.Exit(5), new TaskOptions { MaxRetries = 1 }).DefaultTimeout());

        Assert.Contains("after 1 retries", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TaskThatFinished_IsNotChargedWithTheCrashOfTheTaskAfterIt_OnTheSameWorker()
    {
        // One CPU: each pair is pipelined onto one worker, the exit right behind the result.
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 1, LogToDriver = false }).DefaultTimeout();
        for (var round = 0; round < 10; round++)
        {
            var finished = cluster.Submit(() => TestTasks.Square(round), new TaskOptions { MaxRetries = 0 });
            var crashing = cluster.Submit(() => TestTasks.Exit(4), new TaskOptions { MaxRetries = 0 });

            Assert.Equal(round * round, await finished.DefaultTimeout());
            Assert.Equal(4, (await Assert.ThrowsAsync<WorkerCrashedException>(() => crashing.DefaultTimeout())).ExitCode);
        }
    }

    [Fact]
    public async Task Submit_WorkerCrashesOnce_RetrySucceeds()
    {
        var marker = Path.Combine(_markers, "crash");

        var value = await Cluster.Submit(() => TestTasks.CrashOnce(marker), new TaskOptions { MaxRetries = 1 }).DefaultTimeout();

        Assert.Equal(42, value);
        Assert.True(File.Exists(marker));
    }

    [Fact]
    public async Task Submit_ExceptionWithoutRetryExceptions_IsNotRetried()
    {
        var marker = Path.Combine(_markers, "throw-no-retry");

        await Assert.ThrowsAsync<TaskFailedException>(() => Cluster.Submit(() => TestTasks.ThrowOnce(marker), new TaskOptions { MaxRetries = 3 }).DefaultTimeout());
    }

    [Fact]
    public async Task Submit_ExceptionWithRetryExceptions_IsRetried()
    {
        var marker = Path.Combine(_markers, "throw-retry");

        var value = await Cluster.Submit(() => TestTasks.ThrowOnce(marker), new TaskOptions { MaxRetries = 1, RetryExceptions = true }).DefaultTimeout();

        Assert.Equal(43, value);
    }

    [Fact]
    public async Task Submit_AfterAWorkerCrash_OtherTasksKeepRunning()
    {
        var crash = Cluster.Submit(() => TestTasks.Exit(1), new TaskOptions { MaxRetries = 0 });
        var fine = Cluster.Submit(() => TestTasks.Square(5));

        await Assert.ThrowsAsync<WorkerCrashedException>(() => crash.DefaultTimeout());
        Assert.Equal(25, await fine.DefaultTimeout());
        Assert.Equal(36, await Cluster.Submit(() => TestTasks.Square(6)).DefaultTimeout());
    }

    public void Dispose() => Directory.Delete(_markers, recursive: true);
}
