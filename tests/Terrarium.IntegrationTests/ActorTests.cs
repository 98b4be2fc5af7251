namespace Terrarium.IntegrationTests;

[Collection(ClusterCollection.Name)]
public sealed class ActorTests(ClusterFixture fixture)
{
    private Cluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Call_ManyCalls_RunOneAtATimeInCallOrder()
    {
        var counter = Cluster.CreateActor(() => new Counter(0));

        var refs = Enumerable.Range(0, 200).Select(_ => counter.Call(c => c.Increment(1))).ToList();

        Assert.Equal(Enumerable.Range(1, 200), await Cluster.GetAsync(refs).DefaultTimeout());
        await counter.KillAsync().DefaultTimeout();
    }

    [Fact]
    public async Task Call_AsyncMethod_RefHoldsTheAwaitedValue_AndOrderHolds()
    {
        var counter = Cluster.CreateActor(() => new Counter(10));

        var first = counter.Call(c => c.IncrementLaterAsync(5));
        var second = counter.Call(c => c.Increment(1));

        Assert.Equal(15, await first.DefaultTimeout());
        Assert.Equal(16, await second.DefaultTimeout());
        await counter.KillAsync().DefaultTimeout();
    }

    [Fact]
    public async Task Call_MethodThrows_FailsThatCallOnly()
    {
        var counter = Cluster.CreateActor(() => new Counter(0));
        var before = counter.Call(c => c.Increment(1));
        var failing = counter.Call(c => c.Fail("bad input"));
        var after = counter.Call(c => c.Increment(1));

        var error = await Assert.ThrowsAsync<TaskFailedException>(() => failing.DefaultTimeout());

        Assert.Equal("System.ArgumentException", error.RemoteType);
        Assert.Equal(1, await before.DefaultTimeout());
        Assert.Equal(2, await after.DefaultTimeout());
        await counter.KillAsync().DefaultTimeout();
    }

    [Fact]
    public async Task Call_TakingALargeResultOfATask_GetsItsValue()
    {
        var made = Cluster.Submit(() => MultiNodeTasks.MakeBytes(2));
        var counter = Cluster.CreateActor(() => new Counter(0));

        Assert.Equal(MultiNodeTasks.Checksum(MultiNodeTasks.MakeBytes(2)), await counter.Call(c => c.ChecksumOf(made)).DefaultTimeout());
        await counter.KillAsync().DefaultTimeout();
    }

    [Fact]
    public async Task CreateActor_LivesInItsOwnProcess_ApartFromTaskWorkers()
    {
        var a = Cluster.CreateActor(() => new Counter(0));
        var b = Cluster.CreateActor(() => new Counter(0));

        var pids = new[]
        {
            await a.Call(c => c.Pid()).DefaultTimeout(),
            await b.Call(c => c.Pid()).DefaultTimeout(),
            await Cluster.Submit(() => TestTasks.Pid()).DefaultTimeout(),
            Environment.ProcessId,
        };

        Assert.Equal(4, pids.Distinct().Count());
        await a.KillAsync().DefaultTimeout();
        await b.KillAsync().DefaultTimeout();
    }

    [Fact]
    public async Task KillAsync_LaterCalls_ThrowActorDied()
    {
        var counter = Cluster.CreateActor(() => new Counter(0));
        Assert.Equal(1, await counter.Call(c => c.Increment(1)).DefaultTimeout());

        await counter.KillAsync().DefaultTimeout();

        var error = await Assert.ThrowsAsync<ActorDiedException>(() => counter.Call(c => c.Increment(1)).DefaultTimeout());
        Assert.Contains("was killed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetActorAsync_ByName_ReachesTheSameActor()
    {
        var name = "counter-" + Guid.NewGuid().ToString("N");
        var counter = Cluster.CreateActor(() => new Counter(100), new ActorOptions { Name = name });
        await counter.Call(c => c.Increment(1)).DefaultTimeout();

        var same = await Cluster.GetActorAsync<Counter>(name).DefaultTimeout();

        Assert.Equal(102, await same.Call(c => c.Increment(1)).DefaultTimeout());
        await counter.KillAsync().DefaultTimeout();
    }

    [Fact]
    public async Task CreateActor_NameTaken_ThrowsArgumentException()
    {
        var name = "taken-" + Guid.NewGuid().ToString("N");
        var first = Cluster.CreateActor(() => new Counter(0), new ActorOptions { Name = name });

        var error = Assert.Throws<ArgumentException>(() => Cluster.CreateActor(() => new Counter(0), new ActorOptions { Name = name }));

        Assert.Contains($"'{name}' already exists", error.Message, StringComparison.Ordinal);
        await first.KillAsync().DefaultTimeout();
    }

    [Fact]
    public async Task KillAsync_NamedActor_FreesTheName()
    {
        var name = "reused-" + Guid.NewGuid().ToString("N");
        var first = Cluster.CreateActor(() => new Counter(0), new ActorOptions { Name = name });
        await first.KillAsync().DefaultTimeout();

        await TestWaits.UntilAsync(async () =>
        {
            try
            {
                await Cluster.GetActorAsync<Counter>(name);
                return false;
            }
            catch (KeyNotFoundException)
            {
                return true;
            }
        }, $"the name {name} to be released");
        var second = Cluster.CreateActor(() => new Counter(5), new ActorOptions { Name = name });

        Assert.Equal(6, await second.Call(c => c.Increment(1)).DefaultTimeout());
        await second.KillAsync().DefaultTimeout();
    }

    [Fact]
    public async Task GetActorAsync_UnknownName_ThrowsKeyNotFound()
    {
        await Assert.ThrowsAsync<KeyNotFoundException>(() => Cluster.GetActorAsync<Counter>("no-such-actor"));
    }

    [Fact]
    public async Task CreateActor_ConstructorThrows_CallsFailWithActorDiedCarryingTheCause()
    {
        var actor = Cluster.CreateActor(() => new FailingActor("no database"));

        var error = await Assert.ThrowsAsync<ActorDiedException>(() => actor.Call(a => a.Never()).DefaultTimeout());

        Assert.Contains("failed to start", error.Message, StringComparison.Ordinal);
        Assert.Contains("no database", error.Message, StringComparison.Ordinal);
        Assert.Equal("System.InvalidOperationException", error.RemoteType);
    }

    [Fact]
    public async Task Call_ActorCrashesWithoutRestarts_ThisAndLaterCallsThrowActorDied()
    {
        var counter = Cluster.CreateActor(() => new Counter(0));

        var error = await Assert.ThrowsAsync<ActorDiedException>(() => counter.Call(c => c.Crash()).DefaultTimeout());

        Assert.Contains("exited with code 9", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ActorDiedException>(() => counter.Call(c => c.Increment(1)).DefaultTimeout());
    }

    [Fact]
    public async Task Call_ActorCrashesWithRestarts_RestartsWithConstructorState()
    {
        var counter = Cluster.CreateActor(() => new Counter(100), new ActorOptions { MaxRestarts = 1 });
        Assert.Equal(101, await counter.Call(c => c.Increment(1)).DefaultTimeout());
        var firstPid = await counter.Call(c => c.Pid()).DefaultTimeout();

        await Assert.ThrowsAsync<ActorDiedException>(() => counter.Call(c => c.Crash()).DefaultTimeout());

        Assert.Equal(101, await counter.Call(c => c.Increment(1)).DefaultTimeout());
        Assert.NotEqual(firstPid, await counter.Call(c => c.Pid()).DefaultTimeout());
        await counter.KillAsync().DefaultTimeout();
    }

    [Fact]
    public async Task Call_RefArgument_ActorReceivesTheValue()
    {
        var counter = Cluster.CreateActor(() => new Counter(0));
        var five = Cluster.Submit(() => TestTasks.Add(2, 3));

        Assert.Equal(5, await counter.Call(c => c.Increment(five)).DefaultTimeout());
        await counter.KillAsync().DefaultTimeout();
    }

    [Fact]
    public async Task Call_TwoRefArguments_ReadyOneAfterTheOther_IsSentOnceBothAre()
    {
        var gates = Directory.CreateTempSubdirectory("terrarium-two-refs-").FullName;
        try
        {
            var counter = Cluster.CreateActor(() => new Counter(0));
            var first = Cluster.Submit(() => TestTasks.WaitForFile(Path.Combine(gates, "first"), 2));
            var second = Cluster.Submit(() => TestTasks.WaitForFile(Path.Combine(gates, "second"), 3));
            var both = counter.Call(c => c.IncrementBoth(first, second));

            File.WriteAllText(Path.Combine(gates, "first"), "");
            Assert.Equal(2, await first.DefaultTimeout());
            File.WriteAllText(Path.Combine(gates, "second"), "");

            Assert.Equal(5, await both.DefaultTimeout());
            await counter.KillAsync().DefaultTimeout();
        }
        finally
        {
            Directory.Delete(gates, recursive: true);
        }
    }

    [Fact]
    public void Call_NotAMethodOfTheActor_ThrowsArgumentException()
    {
        var counter = Cluster.CreateActor(() => new Counter(0));

        Assert.Throws<ArgumentException>(() => counter.Call(c => c.Value + 1));
    }

    [Fact]
    public void CreateActor_BlankName_ThrowsNamingTheOption()
    {
        var error = Assert.Throws<ArgumentException>(() => Cluster.CreateActor(() => new Counter(0), new ActorOptions { Name = " " }));

        Assert.Equal("Name", error.ParamName);
    }

    [Fact]
    public async Task Handle_PassedToATask_LetsTheTaskCallTheSameActor()
    {
        var counter = Cluster.CreateActor(() => new Counter(10));

        Assert.Equal(15, await Cluster.Submit(() => HandleTasks.IncrementVia(counter, 5)).DefaultTimeout());

        Assert.Equal(16, await counter.Call(c => c.Increment(1)).DefaultTimeout());
        await counter.KillAsync().DefaultTimeout();
    }

    [Fact]
    public async Task Handle_PassedToAnotherActor_LetsItCallTheActor()
    {
        var counter = Cluster.CreateActor(() => new Counter(0));
        var forwarder = Cluster.CreateActor(() => new Forwarder());

        Assert.Equal(3, await forwarder.Call(f => f.Forward(counter, 3)).DefaultTimeout());

        Assert.Equal(4, await counter.Call(c => c.Increment(1)).DefaultTimeout());
        await forwarder.KillAsync().DefaultTimeout();
        await counter.KillAsync().DefaultTimeout();
    }

    [Fact]
    public async Task Handle_ReturnedByATaskThatCreatedTheActor_WorksInTheDriver()
    {
        // Another cluster started and gone since: the handle binds to the cluster it came from, not Cluster.Current.
        await (await Cluster.InitAsync(new ClusterOptions { NumCpus = 1, LogToDriver = false }).DefaultTimeout()).DisposeAsync();

        var counter = await Cluster.Submit(() => HandleTasks.CreateCounter(7)).DefaultTimeout();

        Assert.Equal(8, await counter.Call(c => c.Increment(1)).DefaultTimeout());
        await counter.KillAsync().DefaultTimeout();
    }
}
