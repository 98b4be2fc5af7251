using System.Diagnostics;

namespace Terrarium.Benchmarks;

/// <summary>
/// What the env lifecycle costs and gains: the bookkeeping of cached folders on the task path (an
/// env that holds one against an env that holds none, interleaved in one run), and the job env's
/// eager install against building it where the first tasks need it, on one node and with the first
/// tasks spread over two.
/// </summary>
public static class LifecycleSuite
{
    public static async Task RunAsync(Harness harness)
    {
        var root = Directory.CreateTempSubdirectory("terrarium-bench-lifecycle-");
        try
        {
            await BookkeepingAsync(harness, root.FullName);
            await EagerInstallAsync(harness, root.FullName);
            await EagerInstallAcrossNodesAsync(harness, root.FullName);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    /// <summary>
    /// As <see cref="EagerInstallAsync"/>, on a head and a node started with the CLI (each its own
    /// cache), the first two tasks spread over both: where eager install should win, as every node
    /// builds the env while the driver goes on. A new package each run, so nothing is cached from the last.
    /// </summary>
    private static async Task EagerInstallAcrossNodesAsync(Harness harness, string root)
    {
        var mib = harness.Quick ? 20 : 200;
        var job = Path.Combine(root, "job-tree-spread");
        EnvSuite.MakeTree(job, mib, 2000, 6);
        var daemons = new List<Process>();
        try
        {
            var (head, address, caHash) = await ClusterSuite.StartAsync(root, ["--head", "--port", "0", "--num-cpus", "1"], "cache-head");
            daemons.Add(head);
            daemons.Add((await ClusterSuite.StartAsync(root, ["--address", address, "--ca-hash", caHash, "--num-cpus", "1"], "cache-node")).Process);
            // A first job warms both nodes (their first workers, the sessions between them): without
            // it, whichever mode runs first pays for that, about 2 s here.
            await using (var warm = await Cluster.InitAsync(new ClusterOptions { Address = address, Token = ClusterSuite.Token, CaHash = caHash, LogToDriver = false }))
            {
                await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => warm.Submit(() => BenchTasks.Node(), new TaskOptions { SchedulingStrategy = SchedulingStrategy.Spread }).GetAsync()));
            }

            foreach (var driverWork in new[] { TimeSpan.Zero, TimeSpan.FromSeconds(2) })
            {
                // Eager, lazy, lazy, eager: each mode runs once first and once second of a pair,
                // which here matters as much as the mode (a run pays for what the one before left).
                var times = new Dictionary<bool, List<double>> { [true] = [], [false] = [] };
                foreach (var eager in new[] { true, false, false, true })
                {
                    File.WriteAllText(Path.Combine(job, "run.txt"), Guid.NewGuid().ToString());
                    var env = new RuntimeEnv { WorkingDir = job, Config = new RuntimeEnvConfig { EagerInstall = eager } };
                    var watch = Stopwatch.StartNew();
                    await using (var cluster = await Cluster.InitAsync(new ClusterOptions
                    {
                        Address = address, Token = ClusterSuite.Token, CaHash = caHash, LogToDriver = false, Job = new JobConfig { RuntimeEnv = env },
                    }))
                    {
                        await Task.Delay(driverWork);
                        var spread = new TaskOptions { SchedulingStrategy = SchedulingStrategy.Spread };
                        var nodes = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => cluster.Submit(() => BenchTasks.Node(), spread).GetAsync()));
                        times[eager].Add(watch.Elapsed.TotalMilliseconds);
                        Console.Error.WriteLine($"  {(eager ? "eager" : "lazy")}, {driverWork.TotalSeconds:0} s of driver work: {watch.Elapsed.TotalMilliseconds:N0} ms (tasks ran on {nodes.Distinct().Count()} node(s))");
                    }
                }

                foreach (var (eager, runs) in times)
                {
                    var name = $"job_env_{mib}mib_2_nodes_{(eager ? "eager" : "lazy")}_{driverWork.TotalSeconds:0}s_driver_work";
                    harness.Results.Add(new Measurement(name, runs.Average(), (runs.Max() - runs.Min()) / 2, "ms",
                        $"the same on two CLI nodes, the 2 tasks spread over both ({(eager ? "eager" : "lazy")} install, {driverWork.TotalSeconds:0} s of driver work; mean of 2 runs, ± half their spread)"));
                    Console.Error.WriteLine($"  {name}: {runs.Average():N0} ms");
                }
            }
        }
        finally
        {
            foreach (var daemon in daemons)
            {
                daemon.Kill(entireProcessTree: true);
                await daemon.WaitForExitAsync();
            }
        }
    }

    /// <summary>
    /// Eager first with no driver work, lazy first with some: a run after another pays for what
    /// that one left (dirty pages being written back, a warmer or colder cache), so neither mode
    /// always goes first.
    /// </summary>
    private static bool[] FirstAndSecond(TimeSpan driverWork) => driverWork == TimeSpan.Zero ? [true, false] : [false, true];

    private static async Task BookkeepingAsync(Harness harness, string root)
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { LogToDriver = false, CacheDirectory = Path.Combine(root, "cache-bookkeeping") });
        var folder = Directory.CreateDirectory(Path.Combine(root, "small-job")).FullName;
        File.WriteAllText(Path.Combine(folder, "data.txt"), "cached");
        var zip = Path.Combine(root, "small-job.zip");
        System.IO.Compression.ZipFile.CreateFromDirectory(folder, zip);
        // A zip by URI, not a local folder: the driver checks a local folder for edits at every submission, which is not what this measures.
        var withFolder = new TaskOptions { RuntimeEnv = new RuntimeEnv { WorkingDir = "file://" + zip, EnvVars = new Dictionary<string, string> { ["ENV"] = "a" } } };
        var withNone = new TaskOptions { RuntimeEnv = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["ENV"] = "b" } } };
        foreach (var options in new[] { withFolder, withNone })
        {
            var warmUp = Stopwatch.StartNew();
            while (warmUp.Elapsed < harness.RuntimeWarmUp)
            {
                await cluster.Submit(() => BenchTasks.Noop(), options);
            }
        }

        const int calls = 100;
        await harness.InterleavedRatesAsync(calls,
            ("env_with_cached_folder_tasks_sync", "tasks in an env that holds a cached folder (a working dir), submit and await in a loop", () => LoopAsync(cluster, withFolder, calls)),
            ("env_without_cached_folder_tasks_sync", "the same in an env that holds none (env_vars only), rounds interleaved with the above", () => LoopAsync(cluster, withNone, calls)));
        harness.Ratio("cached_folder_bookkeeping", "env_with_cached_folder_tasks_sync / env_without_cached_folder_tasks_sync (goal >= 0.95)",
            "env_with_cached_folder_tasks_sync", "env_without_cached_folder_tasks_sync");
    }

    private static async Task LoopAsync(Cluster cluster, TaskOptions options, int calls)
    {
        for (var i = 0; i < calls; i++)
        {
            await cluster.Submit(() => BenchTasks.Noop(), options);
        }
    }

    /// <summary>
    /// From <c>Cluster.InitAsync</c> with a 200 MiB working dir as the job env to the results of the
    /// job's first four tasks, eager against lazy: with no work in the driver between the two, and
    /// with 2 s of it (reading its input, say), which the eager build overlaps.
    /// </summary>
    private static async Task EagerInstallAsync(Harness harness, string root)
    {
        var mib = harness.Quick ? 20 : 200;
        var job = Path.Combine(root, "job-tree");
        EnvSuite.MakeTree(job, mib, 2000, 6);
        foreach (var driverWork in new[] { TimeSpan.Zero, TimeSpan.FromSeconds(2) })
        {
            foreach (var eager in FirstAndSecond(driverWork))
            {
                var cache = Path.Combine(root, $"cache-{(eager ? "eager" : "lazy")}-{driverWork.TotalSeconds}");
                var env = new RuntimeEnv { WorkingDir = job, Config = new RuntimeEnvConfig { EagerInstall = eager } };
                var watch = Stopwatch.StartNew();
                await using (var cluster = await Cluster.InitAsync(new ClusterOptions { LogToDriver = false, CacheDirectory = cache, Job = new JobConfig { RuntimeEnv = env } }))
                {
                    await Task.Delay(driverWork);
                    await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => cluster.Submit(() => BenchTasks.Noop()).GetAsync()));
                    var name = $"job_env_{mib}mib_{(eager ? "eager" : "lazy")}_{driverWork.TotalSeconds:0}s_driver_work";
                    harness.Results.Add(new Measurement(name, watch.Elapsed.TotalMilliseconds, 0, "ms",
                        $"InitAsync with a {mib} MiB working dir as the job env ({(eager ? "eager" : "lazy")} install), {driverWork.TotalSeconds:0} s of driver work, then 4 tasks: to their results"));
                    Console.Error.WriteLine($"  {name}: {watch.Elapsed.TotalMilliseconds:N0} ms");
                }

                Directory.Delete(cache, recursive: true);
            }
        }
    }
}
