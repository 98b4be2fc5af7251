using ClusterWork;
using Terrarium.Protocol;
using Terrarium.Protocol.Transport;

namespace Terrarium.IntegrationTests;

/// <summary>A head killed and started again with the same Redis: the cluster goes on.</summary>
public sealed class HeadRestartTests
{
    [SkippableFact]
    public async Task HeadKilledAndRestartedWithRedis_NamedActorsKeepTheirState_PackagesAreNotSentAgain_NewWorkRuns()
    {
        using var redis = await RedisServer.StartAsync();
        var store = Path.Combine(Path.GetTempPath(), "terrarium-head-store-" + Guid.NewGuid().ToString("N")[..8]);
        // Two "blue": the actor holds one, tasks take the other.
        await using var nodes = await CliCluster.StartAsync("""{"red": 1}""", ["--redis", redis.Url, "--storage-dir", store], """{"blue": 2}""");
        var code = Directory.CreateTempSubdirectory("terrarium-restart-code-").FullName;
        await File.WriteAllTextAsync(Path.Combine(code, "data.txt"), "shipped once");
        var blueWithFiles = new TaskOptions { Resources = { ["blue"] = 1 }, RuntimeEnv = new RuntimeEnv { WorkingDir = code } };
        try
        {
            var first = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();
            var counter = first.CreateActor(() => new NodeCounter(), new ActorOptions { Name = "survivor", NumCpus = 0, Resources = { ["blue"] = 1 } });
            Assert.Equal(5, await counter.Call(c => c.Add(5)).DefaultTimeout());
            Assert.Equal("shipped once", await first.Submit(() => FileTasks.Read("data.txt"), blueWithFiles).DefaultTimeout());
            var (packagesBefore, uploadsBefore) = await PackagesAsync(nodes);
            Assert.True(uploadsBefore > 0, "the working dir was uploaded");

            nodes.Daemons[0].Kill();
            await nodes.RestartHeadAsync();
            await TestWaits.UntilAsync(async () => (await ListNodesAsync(nodes)).Count(n => n.Alive) == 2, "both live nodes report to the new head");

            await using (var second = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout())
            {
                var found = await second.GetActorAsync<NodeCounter>("survivor").DefaultTimeout();
                Assert.Equal(6, await found.Call(c => c.Add(1)).DefaultTimeout());
                Assert.Equal("shipped once", await second.Submit(() => FileTasks.Read("data.txt"), blueWithFiles).DefaultTimeout());
                Assert.Equal(16, await second.Submit(() => TestTasks.Square(4)).DefaultTimeout());

                // The first job still runs: the new head keeps what it uses, as the old one did.
                Assert.Contains((await second.GetStatusAsync().DefaultTimeout()).Packages, p => p.Jobs.Contains(first.JobId));
            }

            // The new head serves the packages the old one stored, and none was uploaded to it again.
            Assert.Equal((packagesBefore, 0), await PackagesAsync(nodes));
            await first.DisposeAsync();
        }
        finally
        {
            Directory.Delete(code, recursive: true);
            Directory.Delete(store, recursive: true);
        }
    }

    [SkippableFact]
    public async Task HeadRestartedWithoutRedis_ForgetsNamedActors_ButNodesRejoin()
    {
        // Two "blue": the actor holds one, tasks take the other.
        await using var nodes = await CliCluster.StartAsync("""{"red": 1}""", """{"blue": 2}""");
        await using (var first = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout())
        {
            var counter = first.CreateActor(() => new NodeCounter(), new ActorOptions { Name = "forgotten", NumCpus = 0, Resources = { ["blue"] = 1 } });
            Assert.Equal(1, await counter.Call(c => c.Add(1)).DefaultTimeout());

            nodes.Daemons[0].Kill();
            await nodes.RestartHeadAsync();
            await TestWaits.UntilAsync(async () => (await ListNodesAsync(nodes)).Count(n => n.Alive) == 2, "the surviving node registers with the new head");

            await using var second = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();
            await Assert.ThrowsAsync<KeyNotFoundException>(() => second.GetActorAsync<NodeCounter>("forgotten"));
            Assert.Equal(nodes.Daemons[1].NodeId,
                await second.Submit(() => MultiNodeTasks.WhereAmI(), new TaskOptions { Resources = { ["blue"] = 1 } }).DefaultTimeout());
        }
    }

    private static async Task<IReadOnlyList<NodeState>> ListNodesAsync(CliCluster nodes)
    {
        var (channel, invoker) = ClusterChannel.Open(Endpoint.Parse(nodes.HeadAddress), nodes.Credentials);
        using (channel)
        {
            try
            {
                return (await new Protocol.Head.HeadClient(invoker).ListNodesAsync(new ListNodesRequest())).Nodes;
            }
            catch (Grpc.Core.RpcException)
            {
                return [];
            }
        }
    }

    /// <summary>The head's stored packages, and how many uploads this head received.</summary>
    private static async Task<(int Packages, int Uploads)> PackagesAsync(CliCluster nodes)
    {
        var (channel, invoker) = ClusterChannel.Open(Endpoint.Parse(nodes.HeadAddress), nodes.Credentials);
        using (channel)
        {
            var packages = await new Protocol.Head.HeadClient(invoker).ListPackagesAsync(new ListPackagesRequest());
            return (packages.Packages.Count, packages.Packages.Sum(p => p.Uploads));
        }
    }
}
