using System.Diagnostics;
using Mono.Unix.Native;
using Terrarium.Protocol;
using Terrarium.Protocol.LocalFiles;
using Terrarium.Protocol.Transport;

namespace Terrarium.Benchmarks;

/// <summary>
/// A head and a node started with <c>terrarium start --block</c>, one CPU each: CPU-bound tasks on
/// one node and on two, a large object between them, how long the head takes to declare a killed
/// node dead, and how soon new work runs after the head is killed and restarted with Redis.
/// </summary>
public static class ClusterSuite
{
    internal const string Token = "benchmark-cluster-token-0123456789";
    private const int SpinMilliseconds = 5;

    public static async Task RunAsync(Harness harness)
    {
        var scratch = Directory.CreateTempSubdirectory("terrarium-bench-cluster-").FullName;
        var daemons = new List<Process>();
        try
        {
            var (head, headAddress, caHash) = await StartAsync(scratch, ["--head", "--port", "0", "--num-cpus", "1", "--resources", """{"first": 1}"""]);
            daemons.Add(head);
            var options = new ClusterOptions { Address = headAddress, Token = Token, CaHash = caHash, LogToDriver = false };
            var batch = 200;
            await using (var oneNode = await Cluster.InitAsync(options))
            {
                await harness.RateAsync("cluster_spin_tasks_1_node", $"{batch} tasks of {SpinMilliseconds} ms CPU each, on a 1-CPU node", batch, () => SpinBatchAsync(oneNode, batch));
            }

            var (node, _, _) = await StartAsync(scratch, ["--address", headAddress, "--ca-hash", caHash, "--num-cpus", "1", "--resources", """{"second": 1}"""]);
            daemons.Add(node);
            await using (var twoNodes = await Cluster.InitAsync(options))
            {
                await harness.RateAsync("cluster_spin_tasks_2_nodes", "the same, across two 1-CPU nodes (head's and another)", batch, () => SpinBatchAsync(twoNodes, batch));
            }

            await using (var driver = await Cluster.InitAsync(options))
            {
                await harness.LatencyAsync("cluster_object_256mib_between_nodes", "a 256 MiB result of the second node taken by a task on the first as ReadOnlyMemory<byte> (via the driver): its submission to its result",
                    harness.Quick ? 2 : 4, () => MoveBetweenNodesAsync(driver, 256));
                await harness.LatencyAsync("cluster_object_256mib_between_nodes_as_array", "the same taken as byte[]: the copy into a new managed array on top",
                    2, () => MoveBetweenNodesAsArrayAsync(driver, 256));
            }

            await harness.LatencyAsync("raw_loopback_copy_256mib", "the same bytes through one loopback TCP connection, 1 MiB writes", harness.Quick ? 2 : 4, () => CopyOverLoopbackAsync(256));
            harness.Ratio("cluster_object_vs_loopback", "raw_loopback_copy_256mib / cluster_object_256mib_between_nodes (time ratio: the object's speed as a share of the raw copy's)",
                "raw_loopback_copy_256mib", "cluster_object_256mib_between_nodes");
            await harness.LatencyAsync("raw_loopback_copy_256mib_into_new_file", "the same copy written into a new /dev/shm file whose space is reserved first, as a receiving node's store does",
                harness.Quick ? 2 : 4, () => CopyOverLoopbackAsync(256, intoNewFile: true));
            harness.Ratio("cluster_object_vs_loopback_into_new_file", "raw_loopback_copy_256mib_into_new_file / cluster_object_256mib_between_nodes (the object against a raw copy that also lands in new memory)",
                "raw_loopback_copy_256mib_into_new_file", "cluster_object_256mib_between_nodes");
            await harness.LatencyAsync("grpc_stream_256mib", "the same bytes as one gRPC stream of 64 KiB pieces over loopback TCP with TLS, the node-to-node code alone (no node)",
                harness.Quick ? 2 : 4, () => GrpcStreamProbe.CopyAsync(256));
            await harness.LatencyAsync("grpc_stream_256mib_no_tls", "the same without TLS (--insecure): what TLS itself costs on this path",
                harness.Quick ? 2 : 4, () => GrpcStreamProbe.CopyAsync(256, tls: false));
            harness.Ratio("grpc_stream_tls_cost", "grpc_stream_256mib_no_tls / grpc_stream_256mib (the share of the plain stream's speed left with TLS)",
                "grpc_stream_256mib_no_tls", "grpc_stream_256mib");
            harness.Ratio("grpc_stream_vs_loopback", "raw_loopback_copy_256mib / grpc_stream_256mib (the ceiling of one hop while every crossing is gRPC)",
                "raw_loopback_copy_256mib", "grpc_stream_256mib");
            await harness.LatencyAsync("framed_stream_256mib", "the same bytes as 1 MiB frames on one framed connection over loopback TCP with TLS (handshake done), into a buffer whose pages exist: the bulk channel alone",
                harness.Quick ? 2 : 4, () => FramedProbe.CopyAsync(256));
            await harness.LatencyAsync("framed_stream_256mib_no_tls", "the same without TLS (--insecure)",
                harness.Quick ? 2 : 4, () => FramedProbe.CopyAsync(256, tls: false));
            harness.Ratio("framed_stream_vs_loopback", "raw_loopback_copy_256mib / framed_stream_256mib (the ceiling of one hop on the bulk channel; goal for the object >= 0.5)",
                "raw_loopback_copy_256mib", "framed_stream_256mib");
            harness.Ratio("framed_stream_no_tls_vs_loopback", "raw_loopback_copy_256mib / framed_stream_256mib_no_tls (the framing's own cost, TLS aside)",
                "raw_loopback_copy_256mib", "framed_stream_256mib_no_tls");
            harness.Ratio("cluster_object_vs_grpc_stream", "grpc_stream_256mib / cluster_object_256mib_between_nodes (the object crosses two hops: node to node, node to worker)",
                "grpc_stream_256mib", "cluster_object_256mib_between_nodes");
            harness.Ratio("cluster_scale_out_ratio", "cluster_spin_tasks_2_nodes / cluster_spin_tasks_1_node (2 cores: at most 2)", "cluster_spin_tasks_2_nodes", "cluster_spin_tasks_1_node");
            await harness.LatencyAsync("node_death_detection", "SIGKILL a node until the head lists it dead (--node-death-timeout 10 s)", 1, async () =>
            {
                var watch = Stopwatch.StartNew();
                node.Kill();
                await WaitUntilDeadAsync(headAddress, caHash);
                return watch.Elapsed;
            });
            await MeasureHeadRestartAsync(harness, scratch, daemons);
        }
        finally
        {
            foreach (var daemon in Enumerable.Reverse(daemons))
            {
                if (!daemon.HasExited)
                {
                    Syscall.kill(daemon.Id, Signum.SIGTERM);
                    await daemon.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
                }
            }

            Directory.Delete(scratch, recursive: true);
        }
    }

    private static async Task<TimeSpan> MoveBetweenNodesAsync(Cluster cluster, int mebibytes)
    {
        var made = cluster.Submit(() => BenchTasks.Memory(mebibytes), new TaskOptions { Resources = { ["second"] = 1 } });
        await made;
        var watch = Stopwatch.StartNew();
        var length = await cluster.Submit(() => BenchTasks.MappedLength(made), new TaskOptions { Resources = { ["first"] = 1 } });
        return length == mebibytes << 20 ? watch.Elapsed : throw new InvalidOperationException($"the task saw {length} bytes");
    }

    private static async Task<TimeSpan> MoveBetweenNodesAsArrayAsync(Cluster cluster, int mebibytes)
    {
        var made = cluster.Submit(() => BenchTasks.Bytes(mebibytes), new TaskOptions { Resources = { ["second"] = 1 } });
        await made;
        var watch = Stopwatch.StartNew();
        var length = await cluster.Submit(() => BenchTasks.Length(made), new TaskOptions { Resources = { ["first"] = 1 } });
        return length == mebibytes << 20 ? watch.Elapsed : throw new InvalidOperationException($"the task saw {length} bytes");
    }

    /// <param name="mebibytes">How much to copy, in 1 MiB writes.</param>
    /// <param name="intoNewFile">
    /// Write what arrives into a new file of /dev/shm, its space reserved first, as a node receiving
    /// an object into its store does: the cost of memory the machine has not touched yet is in it.
    /// </param>
    internal static async Task<TimeSpan> CopyOverLoopbackAsync(int mebibytes, bool intoNewFile = false)
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var watch = Stopwatch.StartNew();
        var receiving = Task.Run(async () =>
        {
            using var server = await listener.AcceptTcpClientAsync();
            var buffer = new byte[1 << 20];
            var received = 0L;
            int read;
            await using var stream = server.GetStream();
            var path = $"/dev/shm/terrarium-bench-{Guid.NewGuid():N}";
            using var file = intoNewFile
                ? new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, PreallocationSize = (long)mebibytes << 20, Options = FileOptions.DeleteOnClose })
                : null;
            while ((read = await stream.ReadAsync(buffer)) > 0)
            {
                if (file is not null)
                {
                    RandomAccess.Write(file.SafeFileHandle, buffer.AsSpan(0, read), received);
                }

                received += read;
            }

            return received;
        });
        using (var client = new System.Net.Sockets.TcpClient())
        {
            await client.ConnectAsync(System.Net.IPAddress.Loopback, ((System.Net.IPEndPoint)listener.LocalEndpoint).Port);
            await using var stream = client.GetStream();
            var chunk = new byte[1 << 20];
            for (var i = 0; i < mebibytes; i++)
            {
                await stream.WriteAsync(chunk);
            }
        }

        return await receiving == (long)mebibytes << 20 ? watch.Elapsed : throw new InvalidOperationException("the copy lost bytes");
    }

    /// <summary>
    /// A head with Redis (and no CPUs) and a node; the head is killed and started again on its port:
    /// from the new head's launch to a new driver's first task result.
    /// </summary>
    private static async Task MeasureHeadRestartAsync(Harness harness, string scratch, List<Process> daemons)
    {
        if (!(Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, "redis-server"))))
        {
            Console.Error.WriteLine("  head_restart_to_first_result: skipped, redis-server is not installed");
            return;
        }

        var redisPort = FreePort();
        // With a password, as the head wants it: any local user could write to one without.
        var redisPassword = Guid.NewGuid().ToString("N");
        using var redis = Process.Start(new ProcessStartInfo("redis-server",
            ["--port", $"{redisPort}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", redisPassword])
        {
            RedirectStandardOutput = true,
        })!;
        try
        {
            string[] headRole = ["--head", "--port", $"{FreePort()}", "--num-cpus", "0", "--redis", $"redis://:{redisPassword}@127.0.0.1:{redisPort}", "--storage-dir", Path.Combine(scratch, "store")];
            await WaitUntilListeningAsync(redisPort);
            var (head, address, caHash) = await StartAsync(scratch, headRole);
            daemons.Add(head);
            var (node, _, _) = await StartAsync(scratch, ["--address", address, "--ca-hash", caHash, "--num-cpus", "1"]);
            daemons.Add(node);
            var options = new ClusterOptions { Address = address, Token = Token, CaHash = caHash, LogToDriver = false };
            await using (var warm = await Cluster.InitAsync(options))
            {
                await warm.Submit(() => BenchTasks.Noop());
            }

            await harness.LatencyAsync("head_restart_to_first_result", "SIGKILL the head (Redis-backed), start it again on its port: its launch to a new driver's first task result", 1, async () =>
            {
                head.Kill();
                await head.WaitForExitAsync();
                var watch = Stopwatch.StartNew();
                (head, _, _) = await StartAsync(scratch, headRole);
                daemons.Add(head);
                while (true)
                {
                    try
                    {
                        await using var driver = await Cluster.InitAsync(options);
                        await driver.Submit(() => BenchTasks.Noop());
                        return watch.Elapsed;
                    }
                    catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                    {
                        // The node has not registered with the new head yet.
                        await Task.Delay(50);
                    }
                }
            });
        }
        finally
        {
            redis.Kill();
        }
    }

    private static async Task WaitUntilListeningAsync(int port)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                using var client = new System.Net.Sockets.TcpClient();
                await client.ConnectAsync(System.Net.IPAddress.Loopback, port);
                return;
            }
            catch (System.Net.Sockets.SocketException) when (attempt < 100)
            {
                await Task.Delay(50);
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task SpinBatchAsync(Cluster cluster, int batch)
    {
        var refs = Enumerable.Range(0, batch).Select(_ => cluster.Submit(() => BenchTasks.Spin(SpinMilliseconds))).ToList();
        await cluster.WaitAsync(refs, refs.Count, Timeout.InfiniteTimeSpan);
    }

    private static async Task WaitUntilDeadAsync(string headAddress, string caHash)
    {
        var head = Endpoint.Parse(headAddress);
        var tls = await Protocol.Security.CaDiscovery.FetchAsync(head, caHash, CancellationToken.None);
        var (channel, invoker) = ClusterChannel.Open(head, new Protocol.Security.ClusterCredentials(Token, tls));
        using (channel)
        {
            var client = new Protocol.Head.HeadClient(invoker);
            while ((await client.ListNodesAsync(new ListNodesRequest())).Nodes.All(n => n.Alive))
            {
                await Task.Delay(20);
            }
        }
    }

    /// <summary>
    /// A daemon in the foreground, its folders under <paramref name="scratch"/> (its env cache in
    /// <paramref name="cache"/> there): the process, the head's address it printed, and (for a head)
    /// the CA hash of its join line.
    /// </summary>
    internal static async Task<(Process Process, string HeadAddress, string CaHash)> StartAsync(string scratch, string[] role, string cache = "cache")
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "Terrarium.Cli.dll");
        var start = new ProcessStartInfo(Node.WorkerHostCommand.CurrentDotnet(),
            [cli, "start", .. role, "--token", Token, "--cache-dir", Path.Combine(scratch, cache), "--block"])
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.Environment["XDG_RUNTIME_DIR"] = PrivateDirectory.Create(Path.Combine(scratch, "run"));
        start.Environment["XDG_CONFIG_HOME"] = Path.Combine(scratch, "config");
        start.Environment["TERRARIUM_DASHBOARD_PORT"] = "0";
        var process = Process.Start(start)!;
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(1))
            ?? throw new InvalidOperationException($"terrarium start {string.Join(' ', role)} exited before it served");
        // "Terrarium head started at ADDRESS, with node …" or "Terrarium node … joined the cluster at ADDRESS."
        var isHead = line.Contains(" started at ", StringComparison.Ordinal);
        var address = isHead ? line.Split(" started at ")[1].Split(',')[0] : line.Split(" joined the cluster at ")[1].TrimEnd('.');
        var caHash = "";
        // The head's join line: "  Join from another machine:  terrarium start … --ca-hash sha256:…"
        while (isHead && caHash.Length == 0 && await process.StandardOutput.ReadLineAsync() is { } next)
        {
            caHash = next.Contains("--ca-hash ", StringComparison.Ordinal) ? next.Split("--ca-hash ")[1].Trim() : "";
        }

        _ = process.StandardOutput.ReadToEndAsync();
        return (process, address, caHash);
    }
}
