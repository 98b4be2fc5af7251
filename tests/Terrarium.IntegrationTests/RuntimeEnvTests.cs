namespace Terrarium.IntegrationTests;

[Collection(ClusterCollection.Name)]
public sealed class RuntimeEnvTests(ClusterFixture fixture)
{
    private Cluster Cluster => fixture.Cluster;

    private static TaskOptions WithVars(params (string Name, string Value)[] vars) => new()
    {
        RuntimeEnv = new RuntimeEnv { EnvVars = vars.ToDictionary(v => v.Name, v => v.Value) },
    };

    [Fact]
    public async Task EnvVars_SetInTheWorker_NotInTheDriver()
    {
        var name = "TEST_VAR_" + Guid.NewGuid().ToString("N");

        var seen = await Cluster.Submit(() => TestTasks.GetEnv(name), WithVars((name, "on"))).DefaultTimeout();

        Assert.Equal("on", seen);
        Assert.Null(Environment.GetEnvironmentVariable(name));
    }

    [Fact]
    public async Task SetupTimeoutMinusOne_MeansNoTimeout_AndTheEnvIsBuilt()
    {
        var env = RuntimeEnv.FromJson("""{"env_vars": {"NO_TIMEOUT": "yes"}, "config": {"setup_timeout_seconds": -1}}""");

        Assert.Equal("yes", await Cluster.Submit(() => TestTasks.GetEnv("NO_TIMEOUT"), new TaskOptions { RuntimeEnv = env }).DefaultTimeout());
    }

    [Fact]
    public async Task EnvVars_NotVisibleToWorkersOfOtherEnvs()
    {
        var name = "TEST_VAR_" + Guid.NewGuid().ToString("N");
        await Cluster.Submit(() => TestTasks.GetEnv(name), WithVars((name, "on"))).DefaultTimeout();

        Assert.Null(await Cluster.Submit(() => TestTasks.GetEnv(name)).DefaultTimeout());
        Assert.Null(await Cluster.Submit(() => TestTasks.GetEnv(name), WithVars(("OTHER", "1"))).DefaultTimeout());
    }

    [Fact]
    public async Task DifferentEnvs_NeverShareAProcess_SameEnvReusesIt()
    {
        var envA = WithVars(("ISOLATION", "a"));
        var envB = WithVars(("ISOLATION", "b"));

        var a1 = await Cluster.Submit(() => TestTasks.Pid(), envA).DefaultTimeout();
        var b1 = await Cluster.Submit(() => TestTasks.Pid(), envB).DefaultTimeout();
        var a2 = await Cluster.Submit(() => TestTasks.Pid(), WithVars(("ISOLATION", "a"))).DefaultTimeout();

        Assert.NotEqual(a1, b1);
        Assert.Equal(a1, a2);
    }

    [Fact]
    public async Task RuntimeContext_InAWorker_ReportsJobWorkerTaskAndEffectiveEnv()
    {
        var summary = await Cluster.Submit(() => TestTasks.ContextSummary(), WithVars(("CTX", "1"))).DefaultTimeout();

        var parts = summary.Split('|');
        Assert.Equal(Cluster.JobId, parts[0]);
        Assert.NotEmpty(parts[1]);
        Assert.NotEmpty(parts[2]);
        Assert.Equal("True", parts[3]);
        Assert.Equal("""{"env_vars":{"CTX":"1"}}""", parts[4]);
    }

    [Fact]
    public async Task Actor_EnvVars_AreSetInItsProcess()
    {
        var counter = Cluster.CreateActor(() => new Counter(0), new ActorOptions
        {
            RuntimeEnv = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["ACTOR_VAR"] = "yes" } },
        });

        Assert.Equal("yes", await counter.Call(c => c.GetEnv("ACTOR_VAR")).DefaultTimeout());
        await counter.KillAsync().DefaultTimeout();
    }

    [Fact]
    public async Task NestedTask_InheritsTheParentWorkersEnv()
    {
        var seen = await Cluster.Submit(() => TestTasks.ChildGetEnv("PARENT_VAR"), WithVars(("PARENT_VAR", "inherited"))).DefaultTimeout();

        Assert.Equal("inherited", seen);
    }

    [Fact]
    public async Task NestedTask_OwnEnv_MergesOverTheParentsKeyByKey()
    {
        var seen = await Cluster.Submit(() => TestTasks.ChildGetEnvWithOwn("PARENT_VAR", "child"), WithVars(("PARENT_VAR", "kept"))).DefaultTimeout();

        Assert.Equal("kept", seen);
    }

    [Fact]
    public void ReservedVariable_IsRefusedAtSubmission()
    {
        Assert.Throws<ArgumentException>(() => Cluster.Submit(() => TestTasks.Pid(), WithVars(("TERRARIUM_TOKEN", "x"))));
    }
}
