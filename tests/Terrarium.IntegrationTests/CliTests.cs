using System.Text.Json;

namespace Terrarium.IntegrationTests;

/// <summary>The <c>terrarium</c> command as a user runs it: start, status, stop, and its answers to mistakes.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class CliTests
{
    [Fact]
    public async Task StartInTheBackground_StatusAutoAddressAndStop_Work()
    {
        await using var folders = await CliCluster.StartAsync(headResources: null);

        var started = await folders.RunAsync("start", "--head", "--port", "0", "--num-cpus", "1", "--resources", """{"gpu": 2}""",
            "--cache-dir", Path.Combine(folders.Scratch, "cache"));
        Assert.True(started.ExitCode == 0, started.Stderr);
        Assert.Contains("Terrarium head started at 127.0.0.1:", started.Stdout, StringComparison.Ordinal);
        Assert.Contains("terrarium start --address 127.0.0.1:", started.Stdout, StringComparison.Ordinal);
        var pid = int.Parse(System.Text.RegularExpressions.Regex.Match(started.Stdout, @"pid (\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        // Its log names paths and users' errors: the user's alone too.
        var log = System.Text.RegularExpressions.Regex.Match(started.Stdout, @", log (\S+)").Groups[1].Value;
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(log));
        // The generated token is the user's alone.
        var tokenFile = Path.Combine(folders.Scratch, "config", "terrarium", "token");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));

        var status = await folders.RunAsync("status", "--json");
        Assert.True(status.ExitCode == 0, status.Stderr);
        var node = JsonDocument.Parse(status.Stdout).RootElement.GetProperty("nodes").EnumerateArray().Single();
        Assert.True(node.GetProperty("alive").GetBoolean());
        Assert.Equal(2, node.GetProperty("total").GetProperty("gpu").GetDouble());
        var nodeId = node.GetProperty("node_id").GetString()!;
        // Large values live in the node's shared-memory store, on /dev/shm by default.
        Assert.StartsWith($"shared memory at /dev/shm/terrarium-{Protocol.LocalFiles.PrivateDirectory.CurrentUserId}/{nodeId} (",
            node.GetProperty("object_store").GetString(), StringComparison.Ordinal);

        var table = await folders.RunAsync("status");
        Assert.True(table.ExitCode == 0, table.Stderr);
        Assert.Contains(nodeId, table.Stdout, StringComparison.Ordinal);
        Assert.Contains($"Large values of {nodeId}: shared memory at /dev/shm/", table.Stdout, StringComparison.Ordinal);

        // A driver on this machine finds the cluster with Address = "auto" (its runtime folder says where).
        var previous = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        Environment.SetEnvironmentVariable("XDG_RUNTIME_DIR", folders.RuntimeDirectory);
        int workerPid;
        try
        {
            await using var cluster = await Cluster.InitAsync(new ClusterOptions { Address = "auto", LogToDriver = false }).DefaultTimeout();
            Assert.Equal(16, await cluster.Submit(() => TestTasks.Square(4)).DefaultTimeout());
            workerPid = await cluster.Submit(() => TestTasks.Pid()).DefaultTimeout();

            // What the node holds shows too: a put of 2 MiB (and the small results of the tasks above, while their refs live).
            var kept = cluster.Put(new byte[2 << 20]);
            await TestWaits.UntilAsync(
                async () =>
                {
                    var nodes = JsonDocument.Parse((await folders.RunAsync("status", "--json")).Stdout).RootElement.GetProperty("nodes");
                    var held = nodes.EnumerateArray().Single();
                    return held.GetProperty("objects").GetInt32() >= 1 && held.GetProperty("object_bytes").GetInt64() > 2 << 20;
                },
                "status to list the put");
            Assert.Contains(" (2 MiB)", (await folders.RunAsync("status")).Stdout, StringComparison.Ordinal);
            GC.KeepAlive(kept);
        }
        finally
        {
            Environment.SetEnvironmentVariable("XDG_RUNTIME_DIR", previous);
        }

        var stopped = await folders.RunAsync("stop");
        Assert.True(stopped.ExitCode == 0, stopped.Stderr);
        Assert.Contains($"stopped the head", stopped.Stdout, StringComparison.Ordinal);
        Assert.True(TestProcesses.HasExited(pid), $"the head (pid {pid}) still runs after terrarium stop");
        await TestWaits.UntilAsync(() => TestProcesses.HasExited(workerPid), $"the head's worker (pid {workerPid}) ends with it");
        Assert.Contains("no Terrarium head or node", (await folders.RunAsync("stop")).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListActors_ShowsEachActorsStateNodeAndLifetime_FilteredAndAsJson()
    {
        await using var nodes = await CliCluster.StartAsync("{}");
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();
        var keeper = cluster.CreateActor(() => new ClusterWork.NodeCounter(), new ActorOptions { Name = "keeper", Lifetime = ActorLifetime.Detached });
        var plain = cluster.CreateActor(() => new ClusterWork.NodeCounter());
        Assert.Equal(1, await keeper.Call(c => c.Add(1)).DefaultTimeout());
        Assert.Equal(1, await plain.Call(c => c.Add(1)).DefaultTimeout());
        await plain.KillAsync().DefaultTimeout();
        string[] connect = ["--address", nodes.HeadAddress, "--token", CliCluster.Token, "--ca-hash", nodes.CaHash];

        var detached = await nodes.RunAsync(["list", "actors", "--json", "--filter", "detached=true", .. connect]);
        var table = await nodes.RunAsync(["list", "actors", .. connect]);
        var badFilter = await nodes.RunAsync(["list", "actors", "--filter", "colour=red", .. connect]);

        Assert.True(detached.ExitCode == 0, detached.Stderr);
        var row = Assert.Single(JsonDocument.Parse(detached.Stdout).RootElement.EnumerateArray());
        Assert.Equal(keeper.ActorId, row.GetProperty("actor_id").GetString());
        Assert.Equal("keeper", row.GetProperty("name").GetString());
        Assert.Equal("alive", row.GetProperty("state").GetString());
        Assert.Equal(nodes.Daemons[0].NodeId, row.GetProperty("node_id").GetString());
        Assert.Equal(cluster.JobId, row.GetProperty("job_id").GetString());
        Assert.True(row.GetProperty("pid").GetInt32() > 0);
        Assert.True(table.ExitCode == 0, table.Stderr);
        Assert.Contains("2 actors", table.Stdout, StringComparison.Ordinal);
        Assert.Contains($"{plain.ActorId} died: actor ClusterWork.NodeCounter ({plain.ActorId}) was killed", table.Stdout, StringComparison.Ordinal);
        Assert.Equal(1, badFilter.ExitCode);
        Assert.Contains("--filter 'colour=red' is not KEY=VALUE with a key of actor_id, class_name", badFilter.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LogLevel_Information_PutsTheNodesInformationLinesInItsLog()
    {
        await using var folders = await CliCluster.StartAsync(headResources: null);

        var started = await folders.RunAsync("start", "--head", "--port", "0", "--num-cpus", "1", "--log-level", "Information",
            "--cache-dir", Path.Combine(folders.Scratch, "cache"));
        Assert.True(started.ExitCode == 0, started.Stderr);
        var log = System.Text.RegularExpressions.Regex.Match(started.Stdout, @", log (\S+)").Groups[1].Value;
        try
        {
            await TestWaits.UntilAsync(() => File.ReadAllText(log).Contains(" listening on ", StringComparison.Ordinal), "the node's 'listening on' line in the daemon's log");
            // Calls to the daemon are not logged one by one at information (ASP.NET Core's lines start at debug).
            Assert.Equal(0, (await folders.RunAsync("status")).ExitCode);
            Assert.DoesNotContain("Request starting", File.ReadAllText(log), StringComparison.Ordinal);
        }
        finally
        {
            Assert.Equal(0, (await folders.RunAsync("stop")).ExitCode);
        }
    }

    [Fact]
    public async Task Mistakes_AreOneLineAndANonZeroExit()
    {
        await using var cluster = await CliCluster.StartAsync("{}");
        var port = cluster.HeadAddress.Split(':')[1];
        var unusedPort = TestProcesses.FreePort();

        string[][] mistakes =
        [
            ["start", "--head", "--port", "0", "--resources", "{\"gpu\": \"many\"}"],
            ["start", "--head", "--port", port, "--num-cpus", "1"],
            ["start", "--address", $"127.0.0.1:{unusedPort}", "--token", CliCluster.Token, "--num-cpus", "1"],
            ["start", "--address", cluster.HeadAddress, "--token", "not-the-cluster-token", "--num-cpus", "1"],
            ["start", "--head", "--host", "example.com"],
            ["start", "--head", "--port", "0", "--node-ip-address", "not an address"],
            ["start", "--head", "--port", "0", "--container-run-option=--network=none"],
            ["start", "--head", "--port", "0", "--container-runtime", " "],
            ["start"],
            ["status", "--address", cluster.HeadAddress, "--token", "not-the-cluster-token"],
            ["start", "--head", "--port", "0", "--container-allow-option=--memory"],
            ["start", "--head", "--port", "0", "--container-allow-option=-v"],
            ["start", "--head", "--port", "0", "--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key", "--tls-ca", "/nonexistent-ca.pem"],
            ["start", "--head", "--port", "0", "--tls-cert", "/nonexistent.pem"],
            ["start", "--address", cluster.HeadAddress, "--token", CliCluster.Token, "--ca-hash", "sha256:not-hex"],
            ["start", "--address", cluster.HeadAddress, "--token", CliCluster.Token, "--ca-hash", cluster.CaHash, "--insecure"],
            ["start", "--head", "--port", "0", "--redis-insecure"],
            ["start", "--head", "--port", "0", "--redis", "redis://:password@127.0.0.1:1/not-a-number"],
            ["status", "--address", cluster.HeadAddress, "--token", CliCluster.Token, "--insecure"],
            ["start", "--head", "--port", "0", "--object-store", "/nonexistent-tmpfs"],
            ["start", "--head", "--port", "0", "--cache-limit", "docker=1GB"],
            ["start", "--head", "--port", "0", "--cache-limit", "pip=lots"],
            ["start", "--head", "--port", "0", "--setup-retry-delay", "-1"],
            ["start", "--head", "--port", "0", "--log-level", "loud"],
            ["start", "--head", "--port", "0", "--log-level", "7"],
            ["env", "logs", "NOT-HEX", "--address", cluster.HeadAddress, "--token", CliCluster.Token, "--ca-hash", cluster.CaHash],
            ["env", "list", "--node", "no-such-node", "--address", cluster.HeadAddress, "--token", CliCluster.Token, "--ca-hash", cluster.CaHash],
        ];
        foreach (var mistake in mistakes)
        {
            // In the foreground: a start that wrongly succeeded would show here, not linger as a daemon.
            var (exitCode, _, stderr) = await cluster.RunAsync(mistake[0] == "start" ? [.. mistake, "--block"] : mistake);

            Assert.True(exitCode != 0, $"terrarium {string.Join(' ', mistake)} succeeded");
            var lines = stderr.Trim().Split('\n');
            Assert.True(lines.Length == 1 && lines[0].StartsWith("terrarium: ", StringComparison.Ordinal),
                $"terrarium {string.Join(' ', mistake)} wrote:\n{stderr}");
        }

        var wrongToken = await cluster.RunAsync("start", "--address", cluster.HeadAddress, "--token", "not-the-cluster-token", "--block");
        Assert.Contains("refused", wrongToken.Stderr, StringComparison.Ordinal);
        var inUse = await cluster.RunAsync("start", "--head", "--port", port, "--block");
        Assert.Contains($"cannot listen on 127.0.0.1:{port}", inUse.Stderr, StringComparison.Ordinal);
        var noStore = await cluster.RunAsync("start", "--head", "--port", "0", "--object-store", "/nonexistent-tmpfs", "--block");
        Assert.Contains("--object-store '/nonexistent-tmpfs' is not a folder (give a tmpfs such as /dev/shm, or 'none')", noStore.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ForegroundDaemon_StopsCleanlyOnSigterm_WithItsWorkers()
    {
        await using var nodes = await CliCluster.StartAsync("{}", "{}");
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();
        var node = nodes.Daemons[1];
        // The head's node is kept busy, so this task runs on the other node.
        var gate = Path.Combine(nodes.Scratch, "gate");
        var filler = cluster.Submit(() => TestTasks.WaitForFile(gate, 1));
        var workerPid = await cluster.Submit(() => TestTasks.Pid()).DefaultTimeout();
        Assert.True(ProcessRunsUnder(workerPid, node.Process.Id), $"the task ran on the head's node, not on {node.NodeId}");

        await node.StopAsync();

        Assert.Equal(0, node.Process.ExitCode);
        await TestWaits.UntilAsync(() => TestProcesses.HasExited(workerPid), $"the node's worker (pid {workerPid}) ends with it");
        await File.WriteAllTextAsync(gate, "go");
        Assert.Equal(1, await filler.DefaultTimeout());
    }

    [Fact]
    public async Task Driver_WithTheWrongToken_IsRefused()
    {
        await using var cluster = await CliCluster.StartAsync("{}");

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Cluster.InitAsync(new ClusterOptions { Address = cluster.HeadAddress, Token = "not-the-cluster-token", CaHash = cluster.CaHash, LogToDriver = false }));

        Assert.Contains("token", e.Message, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Whether <paramref name="pid"/>'s parent is <paramref name="parent"/> (from /proc).</summary>
    private static bool ProcessRunsUnder(int pid, int parent) =>
        File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1].Split(' ')[1] == parent.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
