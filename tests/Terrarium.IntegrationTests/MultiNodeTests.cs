using System.Diagnostics;
using ClusterWork;

namespace Terrarium.IntegrationTests;

/// <summary>
/// One application across several real node processes started with <c>terrarium start</c>: work goes
/// where its resources are, spreads when the local node is busy, objects and actors are used across
/// nodes.
/// </summary>
public sealed class MultiNodeTests
{
    [Fact]
    public async Task Tasks_GoToTheNodeThatHasTheirResources()
    {
        await using var nodes = await CliCluster.StartAsync("""{"red": 1}""", """{"blue": 1}""");
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();

        var onRed = await cluster.Submit(() => MultiNodeTasks.WhereAmI(), new TaskOptions { Resources = { ["red"] = 1 } }).DefaultTimeout();
        var onBlue = await cluster.Submit(() => MultiNodeTasks.WhereAmI(), new TaskOptions { Resources = { ["blue"] = 1 } }).DefaultTimeout();

        Assert.Equal(nodes.Daemons[0].NodeId, onRed);
        Assert.Equal(nodes.Daemons[1].NodeId, onBlue);
    }

    [Fact]
    public async Task LargeObject_MadeOnOneNode_IsUsedOnAnotherAndByTheDriver()
    {
        await using var nodes = await CliCluster.StartAsync("""{"red": 1}""", """{"blue": 1}""");
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();

        var made = cluster.Submit(() => MultiNodeTasks.MakeBytes(64), new TaskOptions { Resources = { ["red"] = 1 } });
        var described = await cluster.Submit(() => MultiNodeTasks.Describe(made), new TaskOptions { Resources = { ["blue"] = 1 } }).DefaultTimeout();
        var bytes = await made.DefaultTimeout();

        Assert.Equal(64 << 20, bytes.Length);
        Assert.Equal($"{64 << 20}:{MultiNodeTasks.Checksum(bytes)} on {nodes.Daemons[1].NodeId}", described);
    }

    [Fact]
    public async Task LargeResult_TakenOnAnotherNode_IsCopiedIntoThatNodesStore_AndMappedThere()
    {
        await using var nodes = await CliCluster.StartAsync("""{"red": 1}""", """{"blue": 1}""");
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();
        var made = cluster.Submit(() => TestTasks.Pattern(5), new TaskOptions { Resources = { ["red"] = 1 } });

        var arrived = await cluster.Submit(() => TestTasks.HowArgumentArrived(made, 5), new TaskOptions { Resources = { ["blue"] = 1 } }).DefaultTimeout();

        Assert.StartsWith($"/dev/shm/terrarium-{Protocol.LocalFiles.PrivateDirectory.CurrentUserId}/{nodes.Daemons[1].NodeId}/sealed/", arrived, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NodeKilled_ALargeResultThatStayedThere_IsLost_NamingItsTask()
    {
        await using var nodes = await CliCluster.StartAsync("""{"red": 1}""", """{"blue": 1}""");
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();
        var made = cluster.Submit(() => MultiNodeTasks.MakeBytes(4), new TaskOptions { Resources = { ["blue"] = 1 } });
        await cluster.WaitAsync([made], 1, TimeSpan.FromMinutes(2)).DefaultTimeout();
        Assert.True(made.IsReady, "the large result is ready");

        // The result stayed on blue: the driver has only heard that it is ready.
        nodes.Daemons[1].Kill();

        var lost = await Assert.ThrowsAsync<ObjectLostException>(() => made.DefaultTimeout());
        Assert.Contains("MakeBytes", lost.Message, StringComparison.Ordinal);
        Assert.Contains("it stayed on node", lost.Message, StringComparison.Ordinal);
        var notCopied = await Assert.ThrowsAsync<ObjectLostException>(() =>
            cluster.Submit(() => MultiNodeTasks.Describe(made), new TaskOptions { Resources = { ["red"] = 1 } }).DefaultTimeout());
        Assert.Contains($"could not be copied from node {nodes.Daemons[1].NodeId}", notCopied.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NodeKilled_ALargeResultOfARetryableTask_IsMadeAgainOnAnotherNode()
    {
        await using var nodes = await CliCluster.StartAsync("""{"red": 1}""", """{"blue": 1}""", """{"blue": 1}""");
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();
        var made = cluster.Submit(() => MultiNodeTasks.MakeBytes(4), new TaskOptions { Resources = { ["blue"] = 1 }, MaxRetries = 1 });
        await cluster.WaitAsync([made], 1, TimeSpan.FromMinutes(2)).DefaultTimeout();
        var status = await cluster.GetStatusAsync().DefaultTimeout();
        var holder = status.Nodes.Single(n => n.Total.ContainsKey("blue") && n.Objects > 0).NodeId;

        nodes.Daemons.Single(d => d.NodeId == holder).Kill();

        var bytes = await made.DefaultTimeout();
        Assert.Equal(MultiNodeTasks.Checksum(MultiNodeTasks.MakeBytes(4)), MultiNodeTasks.Checksum(bytes));
        var described = await cluster.Submit(() => MultiNodeTasks.Describe(made), new TaskOptions { Resources = { ["red"] = 1 } }).DefaultTimeout();
        Assert.Equal($"{4 << 20}:{MultiNodeTasks.Checksum(bytes)} on {nodes.Daemons[0].NodeId}", described);
    }

    [Fact]
    public async Task NodesKilled_ALargeResultAndTheLargeArgumentItWasMadeFrom_AreBothMadeAgain()
    {
        await using var nodes = await CliCluster.StartAsync("""{"red": 1}""", """{"blue": 1}""", """{"blue": 1}""", """{"blue": 1}""");
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();
        var passedOn = PassOnALargeResult(cluster, new TaskOptions { Resources = { ["blue"] = 1 }, MaxRetries = 1 });
        await cluster.WaitAsync([passedOn], 1, TimeSpan.FromMinutes(2)).DefaultTimeout();

        // Both results stay where they were made (one blue node or two): kill those, and only the lineage is left.
        var status = await cluster.GetStatusAsync().DefaultTimeout();
        var holders = status.Nodes.Where(n => n.Total.ContainsKey("blue") && n.Objects > 0).Select(n => n.NodeId).ToList();
        foreach (var holder in holders)
        {
            nodes.Daemons.Single(d => d.NodeId == holder).Kill();
        }

        var bytes = await passedOn.DefaultTimeout();
        Assert.Equal(MultiNodeTasks.Checksum(MultiNodeTasks.MakeBytes(4)), MultiNodeTasks.Checksum(bytes));
    }

    [Fact]
    public async Task NodesKilled_ARunningTaskAndTheLargeResultItTakes_TheResultIsMadeAgainForTheRetry()
    {
        await using var nodes = await CliCluster.StartAsync("""{"red": 1}""", """{"blue": 1}""", """{"blue": 1}""", """{"blue": 1}""");
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();
        var onBlue = new TaskOptions { Resources = { ["blue"] = 1 }, MaxRetries = 1 };
        var made = cluster.Submit(() => MultiNodeTasks.MakeBytes(4), onBlue);
        await cluster.WaitAsync([made], 1, TimeSpan.FromMinutes(2)).DefaultTimeout();
        var marker = Path.Combine(nodes.Scratch, "first-attempt");
        var described = cluster.Submit(() => MultiNodeTasks.DescribeIfRetried(made, marker), onBlue);
        await TestWaits.UntilAsync(() => File.Exists(marker), "the first attempt runs");

        // The node running the task and the node holding its argument (maybe the same) die together.
        var status = await cluster.GetStatusAsync().DefaultTimeout();
        var doomed = status.Nodes.Where(n => n.Total.ContainsKey("blue") && n.Objects > 0).Select(n => n.NodeId)
            .Append(await File.ReadAllTextAsync(marker)).Distinct().ToList();
        foreach (var node in doomed)
        {
            nodes.Daemons.Single(d => d.NodeId == node).Kill();
        }

        var survivors = nodes.Daemons.Skip(1).Select(d => d.NodeId).Except(doomed);
        var description = await described.DefaultTimeout();
        Assert.StartsWith($"{4 << 20}:{MultiNodeTasks.Checksum(MultiNodeTasks.MakeBytes(4))} on ", description, StringComparison.Ordinal);
        Assert.Contains(description[(description.LastIndexOf(' ') + 1)..], survivors);
    }

    [Fact]
    public async Task LineagePastMaxLineageBytes_IsDropped_ItsArgumentReleased_AndTheLossSaysWhy()
    {
        await using var nodes = await CliCluster.StartAsync("""{"red": 1}""", """{"blue": 1}""");
        var options = nodes.DriverOptions;
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { Address = options.Address, Token = options.Token, CaHash = options.CaHash, LogToDriver = false, MaxLineageBytes = 1 << 20 })
            .DefaultTimeout();
        var passedOn = PassOnALargeResult(cluster, new TaskOptions { Resources = { ["blue"] = 1 }, MaxRetries = 1 });
        await cluster.WaitAsync([passedOn], 1, TimeSpan.FromMinutes(2)).DefaultTimeout();

        // Making it again would take the 4 MiB argument, past the budget: blue is let go of that argument.
        var blue = nodes.Daemons[1].NodeId;
        await TestWaits.UntilAsync(
            async () =>
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                return (await cluster.GetStatusAsync()).Nodes.Single(n => n.NodeId == blue).Objects == 1;
            },
            "blue to hold only the last result");

        nodes.Daemons[1].Kill();
        var lost = await Assert.ThrowsAsync<ObjectLostException>(() => passedOn.DefaultTimeout());
        Assert.Contains("ClusterOptions.MaxLineageBytes", lost.Message, StringComparison.Ordinal);
    }

    /// <summary>A large result passed on by a second task; only the second's ref leaves this frame.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static ObjectRef<byte[]> PassOnALargeResult(Cluster cluster, TaskOptions options)
    {
        var made = cluster.Submit(() => MultiNodeTasks.MakeBytes(4), options);
        return cluster.Submit(() => MultiNodeTasks.PassOn(made), options);
    }

    [Fact]
    public async Task TasksSpread_OnceTheLocalNodeIsBusy()
    {
        await using var nodes = await CliCluster.StartAsync("{}", "{}");
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();

        var first = cluster.Submit(() => MultiNodeTasks.SleepThenWhere(1000));
        var second = cluster.Submit(() => MultiNodeTasks.SleepThenWhere(1000));
        var where = await cluster.GetAsync([first, second]).DefaultTimeout();

        Assert.Equal(nodes.Daemons.Select(d => d.NodeId).Order(), where.Order());
    }

    [Fact]
    public async Task Actor_OfANodeOnThisMachine_IsCalledOnItsUnixSocket_NotOverTcp()
    {
        await using var nodes = await CliCluster.StartAsync("""{"red": 1}""");
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();
        var probe = cluster.CreateActor(() => new ProcessProbe(), new ActorOptions { NumCpus = 0 });

        // The driver's connection is the call being answered; the worker also serves TCP for other machines.
        Assert.Equal(1, await probe.Call(p => p.CallersOnUnixSocket()).DefaultTimeout());
    }

    [Fact]
    public async Task Actor_PlacedByResources_IsCalledFromAnotherDriverAndFromTasksOnOtherNodes()
    {
        await using var nodes = await CliCluster.StartAsync("""{"red": 1}""", """{"blue": 1}""");
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();
        var counter = cluster.CreateActor(() => new NodeCounter(),
            new ActorOptions { Name = "blue-counter", NumCpus = 0, Resources = { ["blue"] = 1 } });

        Assert.Equal(nodes.Daemons[1].NodeId, await counter.Call(c => c.Where()).DefaultTimeout());
        Assert.Equal(1, await counter.Call(c => c.Add(1)).DefaultTimeout());

        // A second driver process finds it by name and calls it.
        Assert.Equal($"3 on {nodes.Daemons[1].NodeId}", await RunSecondDriverAsync(nodes, "blue-counter", 2));

        var viaRed = await cluster.Submit(() => MultiNodeTasks.CallFromHere(counter, 4), new TaskOptions { Resources = { ["red"] = 1 } }).DefaultTimeout();
        Assert.Equal($"7 via {nodes.Daemons[0].NodeId}", viaRed);
    }

    [Fact]
    public async Task WorkNoNodeOffers_IsRefusedNamingTheResources()
    {
        await using var nodes = await CliCluster.StartAsync("""{"red": 1}""", """{"blue": 1}""");
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();

        var e = Assert.Throws<ArgumentException>(() => cluster.Submit(() => MultiNodeTasks.WhereAmI(), new TaskOptions { Resources = { ["green"] = 1 } }));

        Assert.Contains("green=1", e.Message, StringComparison.Ordinal);
        Assert.Contains("blue=1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NodeKilled_IsDeclaredDead_ItsWorkIsLost_ItsWorkersExit_AndNewWorkRunsElsewhere()
    {
        await using var nodes = await CliCluster.StartAsync("""{"red": 1}""", """{"blue": 1}""");
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();
        var blue = new TaskOptions { Resources = { ["blue"] = 1 } };
        var workerPid = await cluster.Submit(() => TestTasks.Pid(), blue).DefaultTimeout();
        var running = cluster.Submit(() => MultiNodeTasks.SleepThenWhere(600_000), blue);

        nodes.Daemons[1].Kill();

        var lost = await Assert.ThrowsAsync<ObjectLostException>(() => running.DefaultTimeout());
        Assert.Contains($"node {nodes.Daemons[1].NodeId}", lost.Message, StringComparison.Ordinal);
        Assert.Contains("died", lost.Message, StringComparison.Ordinal);
        Assert.Contains("SleepThenWhere", lost.Message, StringComparison.Ordinal);
        (int ExitCode, string Stdout, string Stderr) status = default;
        await TestWaits.UntilAsync(async () =>
        {
            status = await nodes.RunAsync("status", "--address", nodes.HeadAddress, "--token", CliCluster.Token, "--json");
            return status.Stdout.Contains("\"alive\": false", StringComparison.Ordinal);
        }, "the head declares the killed node dead");
        // Scripts and health probes see it in the exit code too, and which node it is.
        Assert.Equal(2, status.ExitCode);
        Assert.Contains($"terrarium: node {nodes.Daemons[1].NodeId} (", status.Stderr, StringComparison.Ordinal);
        Assert.Contains(") is dead", status.Stderr, StringComparison.Ordinal);
        await TestWaits.UntilAsync(() => TestProcesses.HasExited(workerPid), $"the killed node's worker (pid {workerPid}) exits by itself");
        Assert.Equal(nodes.Daemons[0].NodeId, await cluster.Submit(() => MultiNodeTasks.WhereAmI()).DefaultTimeout());
        Assert.Throws<ArgumentException>(() => cluster.Submit(() => MultiNodeTasks.WhereAmI(), blue));
    }

    [Fact]
    public async Task ActorsNodeProcessKilled_ACallMadeBeforeTheDeathIsKnown_WaitsForTheActorCreatedAgain_AndTheCallInFlightFails()
    {
        // Long enough a death timeout that the call below is surely made before the head declares the node dead.
        await using var nodes = await CliCluster.StartAsync("{}", ["--node-death-timeout", "8"], """{"pool": 2}""", """{"pool": 2}""");
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();
        var pool = new ActorOptions { MaxRestarts = 1, NumCpus = 0, Resources = { ["pool"] = 1 } };
        var counter = cluster.CreateActor(() => new NodeCounter(), pool);
        Assert.Equal(5, await counter.Call(c => c.Add(5)).DefaultTimeout());
        var home = await counter.Call(c => c.Where()).DefaultTimeout();
        var workerPid = await counter.Call(c => c.Pid()).DefaultTimeout();
        var inFlight = counter.Call(c => c.AddSlowly(1, 60_000));

        // The node process dies alone; the actor's worker notices and exits. The head has not declared the node dead yet.
        nodes.Daemons.Single(d => d.NodeId == home).Kill();
        await TestWaits.UntilAsync(() => TestProcesses.HasExited(workerPid), "the dead node's workers to exit");
        var madeMeanwhile = counter.Call(c => c.Add(2));

        var lost = await Assert.ThrowsAsync<ActorDiedException>(() => inFlight.DefaultTimeout());
        Assert.Contains("died with its node", lost.Message, StringComparison.Ordinal);
        // Created again on the other node, constructor run again: the call made meanwhile is its first.
        Assert.Equal(2, await madeMeanwhile.DefaultTimeout());
        Assert.NotEqual(home, await counter.Call(c => c.Where()).DefaultTimeout());
        Assert.Equal(5, await counter.Call(c => c.Add(3)).DefaultTimeout());
    }

    [Fact]
    public async Task ShippedJobCode_IsLoadedFromEachNodesOwnCopy_ForNestedWorkToo()
    {
        await using var nodes = await CliCluster.StartAsync("""{"red": 1}""", """{"blue": 1}""");
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { Address = nodes.HeadAddress, Token = CliCluster.Token, CaHash = nodes.CaHash, LogToDriver = false, ShipJobCode = true }).DefaultTimeout();
        var assembly = Path.GetFileName(typeof(MultiNodeTasks).Assembly.Location);

        var onBlue = await cluster.Submit(() => MultiNodeTasks.CodeLocation(), new TaskOptions { Resources = { ["blue"] = 1 } }).DefaultTimeout();
        var nestedOnRed = await cluster.Submit(() => MultiNodeTasks.NestedCodeLocation("red"), new TaskOptions { Resources = { ["blue"] = 1 } }).DefaultTimeout();

        // Each node's cache folder is its own (cache-0 the head's node, cache-1 the other).
        Assert.StartsWith(Path.Combine(nodes.Scratch, "cache-1", "packages"), onBlue, StringComparison.Ordinal);
        Assert.EndsWith($"{assembly} on {nodes.Daemons[1].NodeId}", onBlue, StringComparison.Ordinal);
        Assert.StartsWith(Path.Combine(nodes.Scratch, "cache-0", "packages"), nestedOnRed, StringComparison.Ordinal);
        Assert.EndsWith($"{assembly} on {nodes.Daemons[0].NodeId}", nestedOnRed, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NodeKilled_ItsRetryableTasksRunOnAnotherNode_WithTheirLargeArguments()
    {
        await using var nodes = await CliCluster.StartAsync("{}", "{}");
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();
        var gate = Path.Combine(nodes.Scratch, "gate");
        var marker = Path.Combine(nodes.Scratch, "first-attempt");
        // The driver's own node gets busy first, so the task to retry goes to the other node.
        var filler = cluster.Submit(() => TestTasks.WaitForFile(gate, 1));
        // Over 1 MiB, the argument is put on the first attempt's node, and lost with it.
        var data = MultiNodeTasks.MakeBytes(4);
        var retried = cluster.Submit(() => MultiNodeTasks.DescribeIfRetried(data, marker), new TaskOptions { MaxRetries = 1 });
        await TestWaits.UntilAsync(() => File.Exists(marker), "the first attempt runs");
        var firstNode = await File.ReadAllTextAsync(marker);
        var survivor = nodes.Daemons.Single(d => d.NodeId != firstNode);
        await TestWaits.UntilAsync(
            async () => (await cluster.GetStatusAsync()).Nodes.Single(n => n.NodeId == firstNode).Objects == 2,
            "the first attempt's node to hold its pending result and its argument");

        nodes.Daemons.Single(d => d.NodeId == firstNode).Kill();
        await File.WriteAllTextAsync(gate, "go");

        Assert.Equal($"{4 << 20}:{MultiNodeTasks.Checksum(data)} on {survivor.NodeId}", await retried.DefaultTimeout());
        Assert.Equal(1, await filler.DefaultTimeout());
    }

    [Fact]
    public async Task NodeKilled_ItsActorWithRestartsLeft_IsCreatedAgainOnAnotherNode_AndFoundByName()
    {
        await using var nodes = await CliCluster.StartAsync("""{"shared": 1}""", """{"shared": 1}""");
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();
        var gate = Path.Combine(nodes.Scratch, "gate");
        // The driver's own node gets busy first, so the actor goes to the other node.
        var filler = cluster.Submit(() => TestTasks.WaitForFile(gate, 1));
        var actor = cluster.CreateActor(() => new NodeCounter(),
            new ActorOptions { Name = "mover", MaxRestarts = 1, NumCpus = 0, Resources = { ["shared"] = 1 } });
        var first = await actor.Call(c => c.Where()).DefaultTimeout();
        Assert.Equal(5, await actor.Call(c => c.Add(5)).DefaultTimeout());
        var survivor = nodes.Daemons.Single(d => d.NodeId != first).NodeId;
        // Another driver holds a handle from before the move.
        await using var other = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();
        var otherHandle = await other.GetActorAsync<NodeCounter>("mover").DefaultTimeout();
        Assert.Equal(first, await otherHandle.Call(c => c.Where()).DefaultTimeout());

        nodes.Daemons.Single(d => d.NodeId == first).Kill();

        // Calls in flight at the node's death fail; once the head has declared it dead, calls wait for
        // the actor's new incarnation and reach it.
        await UntilCallsReachAsync(actor, survivor);
        Assert.Equal(1, await actor.Call(c => c.Add(1)).DefaultTimeout());
        // The other driver's old handle finds the actor by name once it knows the node died.
        await TestWaits.UntilAsync(async () =>
        {
            try
            {
                return await otherHandle.Call(c => c.Where()).DefaultTimeout() == survivor;
            }
            catch (Exception e) when (e is ActorDiedException or ObjectLostException)
            {
                return false;
            }
        }, "the other driver's handle reaches the moved actor");
        Assert.Equal(2, await otherHandle.Call(c => c.Add(1)).DefaultTimeout());
        await using (var second = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout())
        {
            var found = await second.GetActorAsync<NodeCounter>("mover").DefaultTimeout();
            Assert.Equal(survivor, found.NodeId);
            Assert.Equal(4, await found.Call(c => c.Add(2)).DefaultTimeout());
        }

        await File.WriteAllTextAsync(gate, "go");
        Assert.Equal(1, await filler.DefaultTimeout());
    }

    [Fact]
    public async Task NodeKilled_AnUnnamedActorCreatedAgainElsewhere_IsReachedByHandlesPassedToTasks_InCallOrder()
    {
        await using var nodes = await CliCluster.StartAsync("""{"shared": 1}""", """{"shared": 1}""");
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();
        var gate = Path.Combine(nodes.Scratch, "gate");
        // The driver's own node gets busy first, so the actor goes to the other node.
        var filler = cluster.Submit(() => TestTasks.WaitForFile(gate, 1));
        var actor = cluster.CreateActor(() => new NodeCounter(), new ActorOptions { MaxRestarts = 1, NumCpus = 0, Resources = { ["shared"] = 1 } });
        var first = await actor.Call(c => c.Where()).DefaultTimeout();
        var survivor = nodes.Daemons.Single(d => d.NodeId != first).NodeId;

        nodes.Daemons.Single(d => d.NodeId == first).Kill();
        await UntilCallsReachAsync(actor, survivor);
        await File.WriteAllTextAsync(gate, "go");
        Assert.Equal(1, await filler.DefaultTimeout());

        // The handle still names the dead node; the task's own connection finds the actor through the
        // head, holding the calls made meanwhile, in order.
        var viaTask = await cluster.Submit(() => MultiNodeTasks.AddOnesFromHere(actor, 5)).DefaultTimeout();

        Assert.Equal($"1,2,3,4,5 via {survivor}", viaTask);
        Assert.Equal(first, actor.NodeId);
    }

    /// <summary>Calls the moved actor until a call answers from <paramref name="nodeId"/>; until the driver knows of the move, calls fail with <see cref="ActorDiedException"/>.</summary>
    private static Task UntilCallsReachAsync(ActorHandle<NodeCounter> actor, string nodeId) =>
        TestWaits.UntilAsync(async () =>
        {
            try
            {
                return await actor.Call(c => c.Where()).DefaultTimeout() == nodeId;
            }
            catch (ActorDiedException)
            {
                return false;
            }
        }, $"calls reach the actor created again on node {nodeId}");

    /// <summary>Runs tests/Fixtures/SecondDriver: it joins the cluster, adds to the named counter, prints the total and node.</summary>
    private static async Task<string> RunSecondDriverAsync(CliCluster nodes, string name, int by)
    {
        var start = new ProcessStartInfo(Terrarium.Node.WorkerHostCommand.CurrentDotnet(),
            [Path.Combine(AppContext.BaseDirectory, "SecondDriver.dll"), nodes.HeadAddress, CliCluster.Token, name, by.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // As a driver started by a job would: the cluster's CA pin from the environment.
        start.Environment["TERRARIUM_CA_HASH"] = nodes.CaHash;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().DefaultTimeout();
        Assert.True(process.ExitCode == 0, await stderr);
        return (await stdout).Trim();
    }
}
