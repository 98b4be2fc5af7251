using System.Diagnostics;

namespace Terrarium.Benchmarks;

/// <summary>What a <c>container</c> env costs: a worker's start inside an image, and task throughput in one.</summary>
public static class ContainerSuite
{
    /// <summary>Built by the integration tests (Debian minbase, no .NET); any glibc image works.</summary>
    public const string DefaultImage = "localhost/terrarium-test-base:bookworm";

    public static async Task RunAsync(Harness harness, string image)
    {
        if (!await ImageExistsAsync(image))
        {
            Console.Error.WriteLine($"  skipped: image {image} is not here (the integration tests build it; or pass --container-image)");
            return;
        }

        // No pre-started workers: a plain worker start is a process start too, as in a container.
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { LogToDriver = false, PrestartWorkers = 0 });
        var container = new ContainerSpec { Image = image };
        var sample = 0;

        // The first container env pulls nothing (the image is here) but probes it once; not measured.
        await cluster.Submit(() => BenchTasks.Noop(), new TaskOptions { RuntimeEnv = new RuntimeEnv { Container = container } });

        Task<TimeSpan> NewWorkerAsync(ContainerSpec? inImage)
        {
            // A new env each time (another variable): a new worker, never an idle one.
            var env = new RuntimeEnv { Container = inImage, EnvVars = new Dictionary<string, string> { ["SAMPLE"] = $"{Interlocked.Increment(ref sample)}" } };
            return TimeAsync(() => cluster.Submit(() => BenchTasks.Noop(), new TaskOptions { RuntimeEnv = env }));
        }

        var samples = harness.Quick ? 3 : 8;
        await harness.LatencyAsync("plain_worker_start", "a task in a new env, no pre-started worker: process start, attach, task", samples, () => NewWorkerAsync(null));
        await harness.LatencyAsync("container_worker_start", "the same in a container env (image present, already probed): podman run, attach, task", samples, () => NewWorkerAsync(container));
        harness.Ratio("container_worker_start_ratio", "container_worker_start / plain_worker_start", "container_worker_start", "plain_worker_start");

        const int batch = 1000;
        var inContainer = new TaskOptions { RuntimeEnv = new RuntimeEnv { Container = container } };
        async Task BatchAsync(TaskOptions? options)
        {
            var refs = Enumerable.Range(0, batch).Select(_ => cluster.Submit(() => BenchTasks.Noop(), options)).ToList();
            await cluster.WaitAsync(refs, refs.Count, Timeout.InfiniteTimeSpan);
        }

        // Both pools' workers past their JIT warm-up alike before either is measured.
        for (var warm = Stopwatch.StartNew(); warm.Elapsed < harness.RuntimeWarmUp;)
        {
            await BatchAsync(null);
            await BatchAsync(inContainer);
        }

        await harness.RateAsync("no_env_tasks_async_beside_container", "submit 1000 tasks without an env, then wait for all (this suite's cluster)", batch, () => BatchAsync(null));
        await harness.RateAsync("container_tasks_async", "the same in a container env", batch, () => BatchAsync(inContainer));
        await harness.RateAsync("no_env_tasks_sync_beside_container", "submit a task without an env and await it, in a loop (this suite's cluster)", 100, async () =>
        {
            for (var i = 0; i < 100; i++)
            {
                await cluster.Submit(() => BenchTasks.Noop());
            }
        });
        await harness.RateAsync("container_tasks_sync", "the same in a container env", 100, async () =>
        {
            for (var i = 0; i < 100; i++)
            {
                await cluster.Submit(() => BenchTasks.Noop(), inContainer);
            }
        });
        harness.Ratio("container_tasks_ratio", "container_tasks_async / no_env_tasks_async_beside_container", "container_tasks_async", "no_env_tasks_async_beside_container");
        harness.Ratio("container_tasks_sync_ratio", "container_tasks_sync / no_env_tasks_sync_beside_container", "container_tasks_sync", "no_env_tasks_sync_beside_container");
    }

    private static async Task<TimeSpan> TimeAsync(Func<ObjectRef<int>> submit)
    {
        var watch = Stopwatch.StartNew();
        await submit();
        return watch.Elapsed;
    }

    private static async Task<bool> ImageExistsAsync(string image)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("podman", ["image", "exists", image]) { UseShellExecute = false })!;
            await process.WaitForExitAsync();
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
