namespace Terrarium.IntegrationTests;

[Collection(ClusterCollection.Name)]
public sealed class TaskTests(ClusterFixture fixture)
{
    private Cluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Submit_StaticMethod_ReturnsItsValue()
    {
        Assert.Equal(16, await Cluster.Submit(() => TestTasks.Square(4)).DefaultTimeout());
    }

    [Fact]
    public async Task Submit_AsyncMethod_RefHoldsTheAwaitedValue()
    {
        Assert.Equal("ab", await Cluster.Submit(() => TestTasks.ConcatAsync("a", "b")).DefaultTimeout());
    }

    [Fact]
    public async Task Submit_RunsInAWorkerProcess_NotTheDriver()
    {
        var pid = await Cluster.Submit(() => TestTasks.Pid()).DefaultTimeout();

        Assert.NotEqual(Environment.ProcessId, pid);
    }

    [Fact]
    public async Task Submit_ResultLargerThanTheInlineLimit_ComesWhole_AndFeedsAnotherTask()
    {
        var made = Cluster.Submit(() => MultiNodeTasks.MakeBytes(3));
        var described = await Cluster.Submit(() => MultiNodeTasks.Describe(made)).DefaultTimeout();
        var bytes = await made.DefaultTimeout();

        Assert.Equal(3 << 20, bytes.Length);
        Assert.Equal(MultiNodeTasks.Checksum(MultiNodeTasks.MakeBytes(3)), MultiNodeTasks.Checksum(bytes));
        Assert.StartsWith($"{3 << 20}:{MultiNodeTasks.Checksum(bytes)} on ", described, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Put_ValueLargerThanTheInlineLimit_IsUploaded_AndFeedsTasks()
    {
        var value = MultiNodeTasks.MakeBytes(3);

        var put = Cluster.Put(value);
        var described = await Cluster.Submit(() => MultiNodeTasks.Describe(put)).DefaultTimeout();

        Assert.StartsWith($"{3 << 20}:{MultiNodeTasks.Checksum(value)} on ", described, StringComparison.Ordinal);
        Assert.Equal(MultiNodeTasks.Checksum(value), MultiNodeTasks.Checksum(await put.DefaultTimeout()));
    }

    [Fact]
    public async Task Submit_LargeArgument_ReachesTheTask_FromTheDriverAndFromATask()
    {
        var value = MultiNodeTasks.MakeBytes(3);

        var fromDriver = await Cluster.Submit(() => MultiNodeTasks.Describe(value)).DefaultTimeout();
        var fromTask = await Cluster.Submit(() => MultiNodeTasks.DescribeNested(3)).DefaultTimeout();

        Assert.StartsWith($"{3 << 20}:{MultiNodeTasks.Checksum(value)} on ", fromDriver, StringComparison.Ordinal);
        Assert.StartsWith($"{3 << 20}:{MultiNodeTasks.Checksum(value)} on ", fromTask, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Put_LargeValueWhoseRefIsDroppedAtOnce_StillReachesTheTaskThatTakesIt()
    {
        var value = MultiNodeTasks.MakeBytes(3);

        // The ref lives only inside the call: its release may be sent while the value uploads.
        var described = Cluster.Submit(() => MultiNodeTasks.Describe(Cluster.Put(value)));
        GC.Collect();
        GC.WaitForPendingFinalizers();

        Assert.StartsWith($"{3 << 20}:{MultiNodeTasks.Checksum(value)} on ", await described.DefaultTimeout(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_RecordArgumentAndResult_RoundTrip()
    {
        var moved = await Cluster.Submit(() => TestTasks.Move(new Point(1, 2), 10)).DefaultTimeout();

        Assert.Equal(new Point(11, 2), moved);
    }

    [Fact]
    public async Task Submit_GenericMethod_RunsWithTheTypeArgument()
    {
        Assert.Equal(new[] { 1, 2 }, await Cluster.Submit(() => TestTasks.Echo(new[] { 1, 2 })).DefaultTimeout());
    }

    [Fact]
    public async Task GetAsync_ManyRefs_ReturnsValuesInSubmissionOrder()
    {
        var refs = Enumerable.Range(0, 50).Select(i => Cluster.Submit(() => TestTasks.Square(i))).ToList();

        var values = await Cluster.GetAsync(refs).DefaultTimeout();

        Assert.Equal(Enumerable.Range(0, 50).Select(i => i * i), values);
    }

    [Fact]
    public async Task WaitAsync_OneOfTwoDone_ReturnsItAsReadyAndTheOtherAsPending()
    {
        var gate = Path.Combine(Path.GetTempPath(), "terrarium-gate-" + Guid.NewGuid().ToString("N"));
        var slow = Cluster.Submit(() => TestTasks.WaitForFile(gate, 1));
        var fast = Cluster.Submit(() => TestTasks.Square(3));

        var (ready, pending) = await Cluster.WaitAsync([slow, fast], numReturns: 1, TestWaits.Default).DefaultTimeout();

        Assert.Equal([fast], ready);
        Assert.Equal([slow], pending);
        File.WriteAllText(gate, "");
        Assert.Equal(1, await slow.DefaultTimeout());
        File.Delete(gate);
    }

    [Fact]
    public async Task WaitAsync_SomeReadyAlready_CountsThemAndWaitsOnlyForTheRest()
    {
        // Its own cluster: the slow task holds one of two CPUs while the others must run.
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 2, LogToDriver = false }).DefaultTimeout();
        var gate = Path.Combine(Path.GetTempPath(), "terrarium-gate-" + Guid.NewGuid().ToString("N"));
        var first = cluster.Submit(() => TestTasks.Square(2));
        var slow = cluster.Submit(() => TestTasks.WaitForFile(gate, 1));
        var second = cluster.Submit(() => TestTasks.Square(3));
        await cluster.GetAsync([first, second]).DefaultTimeout();

        var (ready, pending) = await cluster.WaitAsync([first, slow, second], numReturns: 2, TestWaits.Default).DefaultTimeout();
        Assert.Equal([first, second], ready);
        Assert.Equal([slow], pending);

        var waitingForAll = cluster.WaitAsync([first, slow, second], numReturns: 3, TestWaits.Default);
        File.WriteAllText(gate, "");
        (ready, pending) = await waitingForAll.DefaultTimeout();
        Assert.Equal([first, slow, second], ready);
        Assert.Empty(pending);
        File.Delete(gate);
    }

    [Fact]
    public async Task WaitAsync_Timeout_ReturnsWhatIsReady()
    {
        var gate = Path.Combine(Path.GetTempPath(), "terrarium-gate-" + Guid.NewGuid().ToString("N"));
        var slow = Cluster.Submit(() => TestTasks.WaitForFile(gate, 1));

        var (ready, pending) = await Cluster.WaitAsync([slow], numReturns: 1, TimeSpan.FromMilliseconds(100)).DefaultTimeout();

        Assert.Empty(ready);
        Assert.Equal([slow], pending);
        File.WriteAllText(gate, "");
        await slow.DefaultTimeout();
        File.Delete(gate);
    }

    [Fact]
    public async Task WaitAsync_NumReturnsOutOfRange_Throws()
    {
        var one = Cluster.Submit(() => TestTasks.Square(1));

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Cluster.WaitAsync([one], numReturns: 2, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task Submit_RefsAsArguments_TaskRunsWithTheirValues()
    {
        var a = Cluster.Submit(() => TestTasks.Square(3));
        var b = Cluster.Submit(() => TestTasks.Square(4));

        var sum = Cluster.Submit(() => TestTasks.Add(a, b));

        Assert.Equal(25, await sum.DefaultTimeout());
    }

    [Fact]
    public async Task Submit_DependencyStillRunning_WaitsForIt()
    {
        var gate = Path.Combine(Path.GetTempPath(), "terrarium-gate-" + Guid.NewGuid().ToString("N"));
        var upstream = Cluster.Submit(() => TestTasks.WaitForFile(gate, 20));
        var downstream = Cluster.Submit(() => TestTasks.Add(upstream, 1));

        Assert.False(downstream.IsReady);
        File.WriteAllText(gate, "");

        Assert.Equal(21, await downstream.DefaultTimeout());
        File.Delete(gate);
    }

    [Fact]
    public async Task Submit_DependencyFailed_DependentFailsWithTheSameError()
    {
        var failing = Cluster.Submit(() => TestTasks.Throw("upstream broke"));
        var dependent = Cluster.Submit(() => TestTasks.Add(failing, 1));

        var error = await Assert.ThrowsAsync<TaskFailedException>(() => dependent.DefaultTimeout());

        Assert.Equal("upstream broke", error.RemoteMessage);
    }

    [Fact]
    public async Task Put_ValueIsReadyAtOnce_AndTasksTakeItAsAnArgument()
    {
        var points = Cluster.Put(new Point(3, 4));

        Assert.True(points.IsReady);
        Assert.Equal(new Point(3, 4), await points.DefaultTimeout());
        var moved = Enumerable.Range(1, 3).Select(dx => Cluster.Submit(() => TestTasks.Move(points, dx))).ToList();
        Assert.Equal(new[] { new Point(4, 4), new Point(5, 4), new Point(6, 4) }, await Cluster.GetAsync(moved).DefaultTimeout());
    }

    [Fact]
    public void Put_UnserializableValue_ThrowsArgumentExceptionNamingTheType()
    {
        var error = Assert.Throws<ArgumentException>(() => Cluster.Put<Stream>(new MemoryStream()));

        Assert.Contains("System.IO.Stream", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ImplicitConversion_OutsideAnExpression_ThrowsInsteadOfBlocking()
    {
        var reference = Cluster.Submit(() => TestTasks.Square(2));

        var error = Assert.Throws<InvalidOperationException>(() => { int value = reference; return; });

        Assert.Contains("await the ref", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_MethodThrows_SurfacesRemoteTypeMessageAndStack()
    {
        var error = await Assert.ThrowsAsync<TaskFailedException>(() => Cluster.Submit(() => TestTasks.Throw("boom")).DefaultTimeout());

        Assert.Equal("System.InvalidOperationException", error.RemoteType);
        Assert.Equal("boom", error.RemoteMessage);
        Assert.Contains("TestTasks.Throw", error.RemoteStackTrace, StringComparison.Ordinal);
        Assert.Contains("TestTasks.Throw", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("TestTasks.Throw", error.Function, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_ResultCannotBeSerialized_ErrorNamesTheType()
    {
        var error = await Assert.ThrowsAsync<TaskFailedException>(() => Cluster.Submit(() => TestTasks.OpenStream()).DefaultTimeout());

        Assert.Contains("System.IO.Stream", error.RemoteMessage, StringComparison.Ordinal);
        Assert.Contains("cannot be serialized", error.RemoteMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Submit_NotASingleStaticCall_ThrowsArgumentExceptionAtSubmission()
    {
        int a = 1, b = 2;

        Assert.Throws<ArgumentException>(() => Cluster.Submit(() => a + b));
    }

    [Fact]
    public void Submit_MoreCpusThanAnyNode_ThrowsArgumentExceptionNamingTheDemand()
    {
        var error = Assert.Throws<ArgumentException>(() => Cluster.Submit(() => TestTasks.Square(1), new TaskOptions { NumCpus = 64 }));

        Assert.Contains("CPU=64", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Submit_UnknownCustomResource_ThrowsArgumentException()
    {
        Assert.Throws<ArgumentException>(() => Cluster.Submit(() => TestTasks.Square(1), new TaskOptions { Resources = { ["gpu-a"] = 1 } }));
    }

    [Fact]
    public void Submit_NegativeCpus_ThrowsNamingTheOption()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Cluster.Submit(() => TestTasks.Square(1), new TaskOptions { NumCpus = -1 }));

        Assert.Equal("NumCpus", error.ParamName);
    }

    [Fact]
    public async Task Submit_ZeroCpuTask_Runs()
    {
        Assert.Equal(4, await Cluster.Submit(() => TestTasks.Square(2), new TaskOptions { NumCpus = 0 }).DefaultTimeout());
    }
}
