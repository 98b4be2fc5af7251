using System.Diagnostics;

namespace Terrarium.Benchmarks;

/// <summary>Ray's microbenchmark set and Terrarium's own figures, on an embedded cluster.</summary>
public static class TerrariumSuite
{
    public static async Task RunAsync(Harness harness)
    {
        var batch = 1000;
        var syncCalls = 100;
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { LogToDriver = false });
        var envVars = new TaskOptions { RuntimeEnv = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["BENCH"] = "1" } } };
        var actor = cluster.CreateActor(() => new BenchActor());
        // Created now, so that their workers warm up with the rest (a new worker is slow for seconds).
        var actors = Enumerable.Range(0, Environment.ProcessorCount).Select(_ => cluster.CreateActor(() => new BenchActor())).ToList();
        await harness.ColdRateAsync("single_client_tasks_sync_cold", "the first 1000 sync tasks of a fresh cluster: JIT tier-up included", 1000, async () =>
        {
            for (var i = 0; i < 1000; i++)
            {
                await cluster.Submit(() => BenchTasks.Noop());
            }
        });
        await WarmUpRuntimeAsync(cluster, envVars, [actor, .. actors], harness.RuntimeWarmUp);

        await harness.RateAsync("single_client_tasks_sync", "submit one task and await it, in a loop", syncCalls, async () =>
        {
            for (var i = 0; i < syncCalls; i++)
            {
                await cluster.Submit(() => BenchTasks.Noop());
            }
        });

        await harness.RateAsync("single_client_tasks_async", "submit 1000 tasks, then wait for all", batch, async () =>
        {
            var refs = Enumerable.Range(0, batch).Select(_ => cluster.Submit(() => BenchTasks.Noop())).ToList();
            await cluster.WaitAsync(refs, refs.Count, Timeout.InfiniteTimeSpan);
        });

        // Right after the no-env figure, while both pools' workers are equally warm (idle workers are
        // reaped after 30 s, and a new worker process is slow until its JIT has warmed up).
        await harness.RateAsync("env_vars_tasks_async", "as single_client_tasks_async, with an env_vars-only runtime env", batch, async () =>
        {
            var refs = Enumerable.Range(0, batch).Select(_ => cluster.Submit(() => BenchTasks.Noop(), envVars)).ToList();
            await cluster.WaitAsync(refs, refs.Count, Timeout.InfiniteTimeSpan);
        });
        harness.Ratio("env_vars_tasks_ratio", "env_vars_tasks_async / single_client_tasks_async (goal >= 0.95)", "env_vars_tasks_async", "single_client_tasks_async");

        await harness.RateAsync("single_client_tasks_and_get_batch", "submit 1000 tasks, then get all their values", batch, async () =>
        {
            var refs = Enumerable.Range(0, batch).Select(_ => cluster.Submit(() => BenchTasks.Noop())).ToList();
            await cluster.GetAsync(refs);
        });

        await harness.RateAsync("single_client_wait_1k_refs", "submit 1000 tasks, then wait for them one at a time (rounds/s)", 1, async () =>
        {
            IReadOnlyList<ObjectRef<int>> pending = Enumerable.Range(0, batch).Select(_ => cluster.Submit(() => BenchTasks.Noop())).ToList();
            while (pending.Count > 0)
            {
                (_, pending) = await cluster.WaitAsync(pending, 1, Timeout.InfiniteTimeSpan);
            }
        });

        // Puts do not wait for the node; each batch ends with a task round trip (the node handles a
        // session's requests in order), so that the rate counts puts the node has stored and no
        // backlog of them slows down the metrics after these.
        var small = new byte[64];
        await harness.RateAsync("single_client_put_calls", "put a 64-byte value, in a loop (stored by the node)", batch, async () =>
        {
            for (var i = 0; i < batch; i++)
            {
                _ = cluster.Put(small);
            }

            await cluster.Submit(() => BenchTasks.Noop());
        });

        await harness.RateAsync("single_client_get_calls", "put a value and get it back through its fresh ref (deserialized each time), in a loop", batch, async () =>
        {
            for (var i = 0; i < batch; i++)
            {
                await cluster.Put(i);
            }

            await cluster.Submit(() => BenchTasks.Noop());
        });

        await harness.RateAsync("1_1_actor_calls_sync", "call an actor and await, in a loop", syncCalls, async () =>
        {
            for (var i = 0; i < syncCalls; i++)
            {
                await actor.Call(a => a.Noop());
            }
        });

        await harness.RateAsync("1_1_actor_calls_async", "1000 pipelined calls to one actor", batch, async () =>
        {
            var refs = Enumerable.Range(0, batch).Select(_ => actor.Call(a => a.Noop())).ToList();
            await cluster.GetAsync(refs);
        });

        await harness.RateAsync("1_1_async_actor_calls_async", "1000 pipelined calls of an async method", batch, async () =>
        {
            var refs = Enumerable.Range(0, batch).Select(_ => actor.Call(a => a.NoopAsync())).ToList();
            await cluster.GetAsync(refs);
        });

        await harness.RateAsync("n_n_actor_calls_async", $"1000 pipelined calls to each of {actors.Count} actors at once (the driver is the only client)", batch * actors.Count, async () =>
        {
            var refs = actors.SelectMany(a => Enumerable.Range(0, batch).Select(_ => a.Call(x => x.Noop()))).ToList();
            await cluster.GetAsync(refs);
        });

        var samples = harness.Quick ? 3 : 8;
        var fresh = 0;
        async Task<TimeSpan> NewEnvTaskAsync(Cluster target)
        {
            var env = new TaskOptions { RuntimeEnv = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["FRESH"] = (++fresh).ToString() } } };
            var watch = Stopwatch.StartNew();
            await target.Submit(() => BenchTasks.Noop(), env);
            return watch.Elapsed;
        }

        async Task WaitForPrestartedWorkerAsync()
        {
            while (!(await cluster.GetStatusAsync()).Nodes[0].Workers.Any(w => w.State == "warm"))
            {
                await Task.Delay(20);
            }

            // A pre-started worker attaches first and then compiles its hot paths (~0.6 s here,
            // its actor server's included); "ready" means both are done.
            await Task.Delay(TimeSpan.FromSeconds(1));
        }

        await harness.LatencyAsync("worker_start", "a task in a new runtime env with a pre-started worker ready (attached and warmed up): request to result", samples, async () =>
        {
            await WaitForPrestartedWorkerAsync();
            return await NewEnvTaskAsync(cluster);
        });

        await harness.LatencyAsync("actor_start", "create an actor and await its first call, with a pre-started worker ready", samples, async () =>
        {
            await WaitForPrestartedWorkerAsync();
            var watch = Stopwatch.StartNew();
            var created = cluster.CreateActor(() => new BenchActor());
            await created.Call(a => a.Noop());
            var elapsed = watch.Elapsed;
            await created.KillAsync();
            return elapsed;
        });

        await using (var cold = await Cluster.InitAsync(new ClusterOptions { LogToDriver = false, PrestartWorkers = 0 }))
        {
            await cold.Submit(() => BenchTasks.Noop());
            await harness.LatencyAsync("worker_cold_start", "a task in a new runtime env, no pre-started worker: process start to result", samples, () => NewEnvTaskAsync(cold));
        }

        var hello = Path.Combine(AppContext.BaseDirectory, "Hello.dll");
        var dotnet = Node.WorkerHostCommand.CurrentDotnet();
        await harness.LatencyAsync("bare_dotnet_start", "dotnet Hello.dll, start to exit: the floor for a worker start", samples, async () =>
        {
            var watch = Stopwatch.StartNew();
            using var process = Process.Start(new ProcessStartInfo(dotnet, [hello]) { RedirectStandardOutput = true })!;
            await process.WaitForExitAsync();
            return watch.Elapsed;
        });
        harness.Ratio("worker_start_ratio", "worker_start / bare_dotnet_start (goal <= 1.5)", "worker_start", "bare_dotnet_start");
        harness.Ratio("worker_cold_start_ratio", "worker_cold_start / bare_dotnet_start", "worker_cold_start", "bare_dotnet_start");

        await MeasureLargeResultAsync(harness, cluster);
    }

    /// <summary>
    /// A 256 MiB result of a task on the driver's own node, from ready to its value in the driver as
    /// a <see cref="ReadOnlyMemory{T}"/>: mapped from the shared-memory store, and, for comparison,
    /// fetched from a node that has none; against one raw copy of the same bytes over loopback.
    /// </summary>
    private static async Task MeasureLargeResultAsync(Harness harness, Cluster cluster)
    {
        var samples = harness.Quick ? 2 : 5;
        await harness.LatencyAsync("object_256mib_same_node", "a 256 MiB result of a task on the driver's own node: ready to its value in the driver as ReadOnlyMemory<byte> (mapped from the shared-memory store)",
            samples, () => TakeLargeResultAsync(cluster, read: false));
        await harness.LatencyAsync("object_256mib_same_node_read", "the same, then every byte read once (the mapping's pages touched): the value in use, not just in reach",
            samples, () => TakeLargeResultAsync(cluster, read: true));
        await using (var noStore = await Cluster.InitAsync(new ClusterOptions { LogToDriver = false, ObjectStoreRoot = null }))
        {
            await harness.LatencyAsync("object_256mib_same_node_fetched", "object_256mib_same_node_read from a node without a shared-memory store (--object-store none): fetched in pieces over gRPC",
                samples, () => TakeLargeResultAsync(noStore, read: true));
        }

        await harness.LatencyAsync("raw_loopback_copy_256mib_here", "the same bytes through one loopback TCP connection, 1 MiB writes (as raw_loopback_copy_256mib)",
            samples, () => ClusterSuite.CopyOverLoopbackAsync(256));
        harness.Ratio("object_same_node_vs_loopback", "object_256mib_same_node / raw_loopback_copy_256mib_here (time ratio; goal <= 1.0)",
            "object_256mib_same_node", "raw_loopback_copy_256mib_here");
    }

    private static async Task<TimeSpan> TakeLargeResultAsync(Cluster cluster, bool read)
    {
        var made = cluster.Submit(() => BenchTasks.Memory(256));
        await cluster.WaitAsync([made], 1, Timeout.InfiniteTimeSpan);
        var watch = Stopwatch.StartNew();
        var value = await made;
        var sum = read ? Sum(value.Span) : 0;
        var elapsed = watch.Elapsed;
        return value.Length == 256 << 20 && sum == 0 ? elapsed : throw new InvalidOperationException($"the driver got {value.Length} bytes summing to {sum}");
    }

    private static long Sum(ReadOnlySpan<byte> bytes)
    {
        var sum = 0L;
        foreach (var word in System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(bytes))
        {
            sum += word;
        }

        return sum;
    }

    /// <summary>
    /// Runs every kind of call for <see cref="Harness.RuntimeWarmUp"/> before measuring, so that
    /// the driver and every worker pool measured later (no env, <paramref name="envVars"/>, the
    /// <paramref name="actors"/>) are past their JIT warm-up alike.
    /// </summary>
    private static async Task WarmUpRuntimeAsync(Cluster cluster, TaskOptions envVars, IReadOnlyList<ActorHandle<BenchActor>> actors, TimeSpan length)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < length)
        {
            await cluster.Submit(() => BenchTasks.Noop());
            await actors[0].Call(a => a.Noop());
            await cluster.GetAsync(Enumerable.Range(0, 100).Select(_ => cluster.Submit(() => BenchTasks.Noop())));
            await cluster.GetAsync(Enumerable.Range(0, 100).Select(_ => cluster.Submit(() => BenchTasks.Noop(), envVars)));
            await cluster.GetAsync(actors.SelectMany(actor => Enumerable.Range(0, 100).Select(_ => actor.Call(a => a.Noop()))));
        }
    }
}
