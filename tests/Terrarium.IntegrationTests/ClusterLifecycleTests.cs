namespace Terrarium.IntegrationTests;

/// <summary>Tests that need a cluster of their own: job defaults, shutdown, reaping, CPU bounds.</summary>
public sealed class ClusterLifecycleTests
{
    [Fact]
    public async Task JobDefaultEnv_AppliesToEveryTask_AndTaskEnvMergesOverIt()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions
        {
            NumCpus = 2,
            LogToDriver = false,
            Job = new JobConfig { RuntimeEnv = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["STAGE"] = "job", ["REGION"] = "eu" } } },
        }).DefaultTimeout();
        var taskEnv = new TaskOptions { RuntimeEnv = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["STAGE"] = "task" } } };

        Assert.Equal("job", await cluster.Submit(() => TestTasks.GetEnv("STAGE")).DefaultTimeout());
        Assert.Equal("task", await cluster.Submit(() => TestTasks.GetEnv("STAGE"), taskEnv).DefaultTimeout());
        Assert.Equal("eu", await cluster.Submit(() => TestTasks.GetEnv("REGION"), taskEnv).DefaultTimeout());
    }

    [Fact]
    public async Task JobDefaultWorkingDir_AppliesToTasksAndActors()
    {
        var dir = Directory.CreateTempSubdirectory("terrarium-jobwd-").FullName;
        File.WriteAllText(Path.Combine(dir, "job.txt"), "job-wide data");
        await using var cluster = await Cluster.InitAsync(new ClusterOptions
        {
            NumCpus = 2, LogToDriver = false, Job = new JobConfig { RuntimeEnv = new RuntimeEnv { WorkingDir = dir } },
        }).DefaultTimeout();

        Assert.Equal("job-wide data", await cluster.Submit(() => FileTasks.Read("job.txt")).DefaultTimeout());
        Assert.Equal("job-wide data", await cluster.CreateActor(() => new FileReader()).Call(r => r.Read("job.txt")).DefaultTimeout());
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public async Task JobDefaultWorkingDir_Missing_FailsInitAsync()
    {
        var missing = Path.Combine(Path.GetTempPath(), "terrarium-missing-" + Guid.NewGuid().ToString("N"));

        var error = await Assert.ThrowsAsync<ArgumentException>(() => Cluster.InitAsync(new ClusterOptions
        {
            LogToDriver = false, Job = new JobConfig { RuntimeEnv = new RuntimeEnv { WorkingDir = missing } },
        }));

        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DisposeAsync_StopsTheJobsWorkers_AndANewInitWorks()
    {
        int taskPid, actorPid;
        await using (var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 2, LogToDriver = false }).DefaultTimeout())
        {
            taskPid = await cluster.Submit(() => TestTasks.Pid()).DefaultTimeout();
            actorPid = await cluster.CreateActor(() => new Counter(0)).Call(c => c.Pid()).DefaultTimeout();
        }

        Assert.True(TestProcesses.HasExited(taskPid), $"task worker {taskPid} still runs");
        Assert.True(TestProcesses.HasExited(actorPid), $"actor worker {actorPid} still runs");

        await using var again = await Cluster.InitAsync(new ClusterOptions { NumCpus = 2, LogToDriver = false }).DefaultTimeout();
        Assert.Equal(9, await again.Submit(() => TestTasks.Square(3)).DefaultTimeout());
    }

    [Fact]
    public async Task DisposedCluster_RefusesSubmissions()
    {
        var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 1, LogToDriver = false }).DefaultTimeout();
        await cluster.DisposeAsync();

        Assert.Throws<ObjectDisposedException>(() => cluster.Submit(() => TestTasks.Square(1)));
    }

    [Fact]
    public async Task IdleTaskWorkers_AreReaped()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions
        {
            NumCpus = 2, LogToDriver = false, IdleWorkerTimeout = TimeSpan.FromMilliseconds(300),
        }).DefaultTimeout();
        var pid = await cluster.Submit(() => TestTasks.Pid()).DefaultTimeout();

        await TestWaits.UntilAsync(async () => (await cluster.GetStatusAsync()).Nodes.Single().Workers.All(w => w.Pid != pid), "idle workers to be reaped");

        await TestWaits.UntilAsync(() => TestProcesses.HasExited(pid), $"worker {pid} to exit");
    }

    [Fact]
    public async Task PrestartedWorker_TakesOnTheEnvVarsNativelyAndTheWorkingDir_AndIsReplaced()
    {
        var dir = Directory.CreateTempSubdirectory("terrarium-warm-").FullName;
        File.WriteAllText(Path.Combine(dir, "here.txt"), "in the working dir");
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 2, LogToDriver = false, PrestartWorkers = 1 }).DefaultTimeout();
        var warm = 0;
        await TestWaits.UntilAsync(async () =>
        {
            warm = (await cluster.GetStatusAsync()).Nodes.Single().Workers.FirstOrDefault(w => w.State == "warm")?.Pid ?? 0;
            return warm != 0;
        }, "a pre-started worker to be ready");
        var env = new RuntimeEnv { WorkingDir = dir, EnvVars = new Dictionary<string, string> { ["WARM_VAR"] = "set late" } };

        var seen = await cluster.Submit(() => TestTasks.EnvironmentReport("WARM_VAR", "here.txt"), new TaskOptions { RuntimeEnv = env }).DefaultTimeout();

        Assert.Equal($"{warm}|set late|set late|in the working dir", seen);
        await TestWaits.UntilAsync(async () =>
            (await cluster.GetStatusAsync()).Nodes.Single().Workers.Any(w => w.State == "warm" && w.Pid != warm),
            "a replacement pre-started worker once the taken one has run its first task");
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public async Task TaskWorkers_AreBoundedByTheNodesCpus()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 2, LogToDriver = false }).DefaultTimeout();

        var pids = await cluster.GetAsync(Enumerable.Range(0, 8).Select(_ => cluster.Submit(() => TestTasks.BusyPid(300)))).DefaultTimeout();

        Assert.InRange(pids.Distinct().Count(), 1, 2);
    }

    [Fact]
    public async Task CustomResources_TaskRunsOnANodeThatOffersThem()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions
        {
            NumCpus = 1, LogToDriver = false, Resources = new Dictionary<string, double> { ["gpu-a"] = 1 },
        }).DefaultTimeout();

        var value = await cluster.Submit(() => TestTasks.Square(7), new TaskOptions { Resources = { ["gpu-a"] = 1 } }).DefaultTimeout();

        Assert.Equal(49, value);
    }

    [Fact]
    public async Task NestedTasksThatWait_RoundAfterRound_NeverDeadlockANodeWithFewCpus()
    {
        // Round after round on the same workers, because the deadlocks this guards against were
        // races: a task pipelined behind a waiting one while a reclaim was in flight, and a wait
        // report that overtook the previous task's result and was then taken for its end.
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 2, LogToDriver = false }).DefaultTimeout();
        for (var round = 0; round < 40; round++)
        {
            var parents = Enumerable.Range(0, 3).Select(_ => cluster.Submit(() => TestTasks.FanOut(3))).ToList();
            var deep = cluster.Submit(() => TestTasks.NestedDepth(4));

            Assert.Equal(new[] { 3, 3, 3 }, await cluster.GetAsync(parents).DefaultTimeout($"round {round}: the fan-out parents"));
            Assert.Equal(4, await deep.DefaultTimeout($"round {round}: the nested chain"));
        }
    }

    [Fact]
    public async Task Status_ShowsWorkersWithTheirEnvHash()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 2, LogToDriver = false }).DefaultTimeout();
        var env = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["S"] = "1" } };
        var pid = await cluster.Submit(() => TestTasks.Pid(), new TaskOptions { RuntimeEnv = env }).DefaultTimeout();

        var node = (await cluster.GetStatusAsync().DefaultTimeout()).Nodes.Single();

        var worker = Assert.Single(node.Workers, w => w.Pid == pid);
        Assert.Equal(64, worker.RuntimeEnvHash.Length);
        Assert.Equal(cluster.JobId, worker.JobId);
        Assert.Contains(node.RuntimeEnvs, e => e.Hash == worker.RuntimeEnvHash && e.State == "ready");
        Assert.Equal(2, node.Total["CPU"]);
    }

    [Fact]
    public async Task Status_ShowsARunningActorsWorkerAsBusy()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 2, LogToDriver = false }).DefaultTimeout();
        var counter = cluster.CreateActor(() => new Counter(0));
        var pid = await counter.Call(c => c.Pid()).DefaultTimeout();

        var worker = Assert.Single((await cluster.GetStatusAsync().DefaultTimeout()).Nodes.Single().Workers, w => w.Pid == pid);

        Assert.Equal(counter.ActorId, worker.ActorId);
        Assert.Equal("busy", worker.State);
    }

    [Fact]
    public async Task Resources_AfterCrashesRetriesNestingAndPipelining_AreAllReturned()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 2, LogToDriver = false }).DefaultTimeout();
        var markers = Directory.CreateTempSubdirectory("terrarium-markers-").FullName;

        var work = new List<Task>
        {
            cluster.GetAsync(Enumerable.Range(0, 200).Select(i => cluster.Submit(() => TestTasks.Square(i)))),
            cluster.Submit(() => TestTasks.FanOut(3)).GetAsync(),
            cluster.Submit(() => TestTasks.NestedDepth(3)).GetAsync(),
            cluster.Submit(() => TestTasks.CrashOnce(Path.Combine(markers, "c")), new TaskOptions { MaxRetries = 1 }).GetAsync(),
            cluster.Submit(() => TestTasks.ThrowOnce(Path.Combine(markers, "t")), new TaskOptions { MaxRetries = 1, RetryExceptions = true }).GetAsync(),
            Assert.ThrowsAsync<WorkerCrashedException>(() => cluster.Submit(() => TestTasks.Exit(2), new TaskOptions { MaxRetries = 0 }).GetAsync()),
            Assert.ThrowsAsync<TaskFailedException>(() => cluster.Submit(() => TestTasks.Throw("x")).GetAsync()),
        };
        await Task.WhenAll(work).DefaultTimeout();

        await TestWaits.UntilAsync(async () =>
        {
            var node = (await cluster.GetStatusAsync()).Nodes.Single();
            return node.Available["CPU"] == node.Total["CPU"];
        }, "every CPU to be available again");
        Directory.Delete(markers, recursive: true);
    }

    [Fact]
    public async Task ManyPipelinedBatches_ReclaimsRacingResults_LeaveEveryCpuAvailable()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 2, LogToDriver = false }).DefaultTimeout();

        for (var round = 0; round < 100; round++)
        {
            await cluster.GetAsync(Enumerable.Range(0, 20).Select(i => cluster.Submit(() => TestTasks.Square(i)))).DefaultTimeout();
        }

        await TestWaits.UntilAsync(async () =>
        {
            var node = (await cluster.GetStatusAsync()).Nodes.Single();
            return node.Available["CPU"] == node.Total["CPU"];
        }, "every CPU to be available again after the batches");
    }

    [Fact]
    public async Task ShortTaskSentAheadBehindALongOne_RunsElsewhereOnceAWorkerIsFree()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 2, LogToDriver = false }).DefaultTimeout();
        var gates = Directory.CreateTempSubdirectory("terrarium-gates-").FullName;
        var (first, second) = (Path.Combine(gates, "1"), Path.Combine(gates, "2"));
        var long1 = cluster.Submit(() => TestTasks.WaitForFile(first, 1));
        var long2 = cluster.Submit(() => TestTasks.WaitForFile(second, 2));
        await TestWaits.UntilAsync(async () => (await cluster.GetStatusAsync()).Nodes.Single().Available["CPU"] == 0, "both CPUs to be taken");

        var shortTask = cluster.Submit(() => TestTasks.Square(5));
        File.WriteAllText(second, "");

        Assert.Equal(25, await shortTask.DefaultTimeout());
        Assert.False(long1.IsReady);
        File.WriteAllText(first, "");
        Assert.Equal(1, await long1.DefaultTimeout());
        Assert.Equal(2, await long2.DefaultTimeout());
        Directory.Delete(gates, recursive: true);
    }

    [Fact]
    public async Task SecondDriver_JoinsByAddressAndToken_AndRunsItsOwnJob()
    {
        var token = "join-test-token-" + Guid.NewGuid().ToString("N");
        await using var first = await Cluster.InitAsync(new ClusterOptions { NumCpus = 2, LogToDriver = false, Token = token }).DefaultTimeout();

        await using var second = await Cluster.InitAsync(new ClusterOptions { Address = first.Address, Token = token, LogToDriver = false }).DefaultTimeout();

        Assert.NotEqual(first.JobId, second.JobId);
        Assert.Equal(first.NodeId, second.NodeId);
        Assert.Equal(36, await second.Submit(() => TestTasks.Square(6)).DefaultTimeout());
        Assert.Equal(49, await first.Submit(() => TestTasks.Square(7)).DefaultTimeout());
    }

    [Fact]
    public async Task JoiningWithTheWrongToken_IsRefusedClearly()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions
        {
            NumCpus = 1, LogToDriver = false, Token = "right-token-" + Guid.NewGuid().ToString("N"),
        }).DefaultTimeout();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Cluster.InitAsync(new ClusterOptions
        {
            Address = cluster.Address, Token = "wrong-token-" + Guid.NewGuid().ToString("N"), LogToDriver = false,
        }));

        Assert.Contains("wrong cluster token", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InitAsync_BadAddress_ThrowsArgumentException()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Cluster.InitAsync(new ClusterOptions { Address = "not an address", Token = "a-token-of-enough-length" }));
    }

    [Fact]
    public async Task InitAsync_NegativeCpus_ThrowsNamingTheOption()
    {
        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Cluster.InitAsync(new ClusterOptions { NumCpus = -1 }));

        Assert.Equal("NumCpus", error.ParamName);
    }

    [Fact]
    public async Task InitAsync_CacheLimitOfAnUnknownKind_ThrowsNamingTheOptionAndTheKinds()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() =>
            Cluster.InitAsync(new ClusterOptions { CacheLimits = new Dictionary<string, long> { ["docker"] = 1 } }));

        Assert.Equal("CacheLimits", error.ParamName);
        Assert.Contains("'docker' = 1 is not a limit: kinds are working_dir, pip, conda, nuget", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InitAsync_NegativeFailedSetupRetryDelay_ThrowsNamingTheOption()
    {
        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            Cluster.InitAsync(new ClusterOptions { FailedSetupRetryDelay = TimeSpan.FromSeconds(-1) }));

        Assert.Equal("FailedSetupRetryDelay", error.ParamName);
    }

    [Fact]
    public async Task InitAsync_NegativeMaxLineageBytes_ThrowsNamingTheOption()
    {
        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Cluster.InitAsync(new ClusterOptions { MaxLineageBytes = -1 }));

        Assert.Equal("MaxLineageBytes", error.ParamName);
    }

    [Fact]
    public async Task InitAsync_ObjectStoreMemoryNotPositive_OrAnObjectStoreRootThatIsNoFolder_ThrowsNamingTheOption()
    {
        var memory = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Cluster.InitAsync(new ClusterOptions { ObjectStoreMemory = 0 }));
        var root = await Assert.ThrowsAsync<ArgumentException>(() => Cluster.InitAsync(new ClusterOptions { ObjectStoreRoot = "/nonexistent-tmpfs" }));

        Assert.Equal("ObjectStoreMemory", memory.ParamName);
        Assert.Equal("ObjectStoreRoot", root.ParamName);
        Assert.Contains("'/nonexistent-tmpfs' is not a folder", root.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EnvVarsTheRuntimeReadsAtStart_GetANewProcess_AndValuesTooLongForProcessStartStillArrive()
    {
        // A pre-started worker's runtime has already read DOTNET_* settings: this one must not be used.
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 1, PrestartWorkers = 1, LogToDriver = false }).DefaultTimeout();
        var limited = new TaskOptions { RuntimeEnv = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["DOTNET_GCHeapHardLimit"] = "0x20000000" } } };
        var longValue = new string('x', 200 * 1024);
        var withLongValue = new TaskOptions { RuntimeEnv = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["BIG"] = longValue } } };

        Assert.Equal(0x20000000, await cluster.Submit(() => ProcessTasks.GcAvailableMemory(), limited).DefaultTimeout());
        Assert.Equal(longValue, await cluster.Submit(() => TestTasks.GetEnv("BIG"), withLongValue).DefaultTimeout());
        Assert.NotEqual(0x20000000, await cluster.Submit(() => ProcessTasks.GcAvailableMemory()).DefaultTimeout());
    }
}
