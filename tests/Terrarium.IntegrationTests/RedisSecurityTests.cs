using ClusterWork;
using Google.Protobuf;
using Terrarium.Protocol;

namespace Terrarium.IntegrationTests;

/// <summary>
/// The head's Redis holds who the nodes are and where actors live: a Redis anyone can write is
/// refused, credentials travel in the address, a corrupt record stops the head naming it, and a
/// node planted in it never receives a connection, let alone the token.
/// </summary>
public sealed class RedisSecurityTests
{
    // Writes hash fields to a Redis that needs no password, in its own protocol: what `nobody` can do to such a Redis.
    private const string RedisWriter = """
        import socket, sys
        def command(*parts):
            out = b'*%d\r\n' % len(parts)
            for p in parts: out += b'$%d\r\n%s\r\n' % (len(p), p)
            return out
        s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
        for i in range(2, len(sys.argv), 3):
            s.sendall(command(b'HSET', sys.argv[i].encode(), sys.argv[i + 1].encode(), bytes.fromhex(sys.argv[i + 2])))
            print(s.recv(1000).decode().strip())
        """;

    [SkippableFact]
    public async Task Head_WithARedisAnyoneCanWrite_IsRefusedNamingTheFlag_UnlessToldRedisInsecure()
    {
        using var redis = await RedisServer.StartAsync(RedisServer.Login.None);
        await using var folders = await CliCluster.StartAsync(null);

        var refused = await folders.RunAsync("start", "--head", "--port", "0", "--num-cpus", "0", "--token", CliCluster.Token, "--redis", redis.Url, "--block");
        await using var allowed = await CliCluster.StartAsync("{}", headArguments: ["--redis", redis.Url, "--redis-insecure"]);

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("accepts writes without a password", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("--redis-insecure", refused.Stderr, StringComparison.Ordinal);
        await using var driver = await Cluster.InitAsync(allowed.DriverOptions).DefaultTimeout();
        Assert.Equal(4, await driver.Submit(() => TestTasks.Square(2)).DefaultTimeout());
    }

    [SkippableFact]
    public async Task Head_WithAnAclUserInTheAddress_KeepsItsNamedActorsAcrossARestart()
    {
        using var redis = await RedisServer.StartAsync(RedisServer.Login.AclUser);
        await using var cluster = await CliCluster.StartAsync("{}", ["--redis", redis.Url], """{"blue": 1}""");
        await using var first = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout();
        var counter = first.CreateActor(() => new NodeCounter(), new ActorOptions { Name = "acl-counter", NumCpus = 0, Resources = { ["blue"] = 1 } });
        Assert.Equal(2, await counter.Call(c => c.Add(2)).DefaultTimeout());

        await cluster.Daemons[0].StopAsync();
        await cluster.RestartHeadAsync();

        await using var second = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout();
        var found = await second.GetActorAsync<NodeCounter>("acl-counter").DefaultTimeout();
        Assert.Equal(3, await found.Call(c => c.Add(1)).DefaultTimeout());
    }

    [SkippableFact]
    public async Task Head_WithACorruptRecordInRedis_RefusesToStart_NamingTheKeyAndField()
    {
        using var redis = await RedisServer.StartAsync();
        await redis.HashSetAsync("terrarium:nodes", "node-broken", [0xFF, 0xFF, 0xFF, 0x01]);
        await using var folders = await CliCluster.StartAsync(null);

        var refused = await folders.RunAsync("start", "--head", "--port", "0", "--num-cpus", "0", "--token", CliCluster.Token, "--redis", redis.Url, "--block");

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("the head's state in Redis is corrupt: terrarium:nodes field 'node-broken'", refused.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("cannot listen", refused.Stderr, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task NodeAndActorNamePlantedInRedisByAnotherUser_NeverReceiveAConnection_TheCallFailsAsActorDied()
    {
        AnotherUser.Require();
        using var redis = await RedisServer.StartAsync(RedisServer.Login.None);
        await using var cluster = await CliCluster.StartAsync("{}", headArguments: ["--redis", redis.Url, "--redis-insecure"]);
        await using var owner = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout();
        var counter = owner.CreateActor(() => new NodeCounter(), new ActorOptions { Name = "counter", NumCpus = 0 });
        Assert.Equal(1, await counter.Call(c => c.Add(1)).DefaultTimeout());

        // nobody plants a node of theirs and points the actor's name at it, keeping the actor's id.
        var port = TestProcesses.FreePort();
        // Listening where the planted node says it is, for 20 s: long past the driver's call.
        using var listener = await AnotherUser.ListenAsync(port, acceptSeconds: 20);
        var evil = new NodeInfo { NodeId = "node-evil", Address = $"127.0.0.1:{port}", Resources = { ["CPU"] = 64 } };
        var name = new LookupActorReply { Found = true, ActorId = counter.ActorId, NodeId = "node-evil", ClassName = typeof(NodeCounter).FullName };
        var (written, output) = await AnotherUser.RunAsync("/usr/bin/python3", "-c", RedisWriter, redis.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "terrarium:nodes", "node-evil", Convert.ToHexString(evil.ToByteArray()),
            "terrarium:actor-names", "counter", Convert.ToHexString(name.ToByteArray()));
        Assert.True(written == 0, output);
        await cluster.Daemons[0].StopAsync();
        await cluster.RestartHeadAsync();

        await using var victim = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout();
        var found = await victim.GetActorAsync<NodeCounter>("counter").DefaultTimeout();
        var error = await Assert.ThrowsAsync<ActorDiedException>(async () => await found.Call(c => c.Add(1)).DefaultTimeout());

        Assert.Contains("node node-evil is not an alive node of the cluster", error.Message, StringComparison.Ordinal);
        Assert.Equal("", (await listener.OutputAsync()).Trim());
        Assert.DoesNotContain((await victim.GetStatusAsync()).Nodes, n => n.NodeId == "node-evil" && n.Alive);
    }
}
