using System.Diagnostics;

namespace Terrarium.Benchmarks;

/// <summary>Whether the driver and its node grow per task: their working set after N tasks and after 10 N.</summary>
public static class MemorySuite
{
    public static async Task RunAsync(Harness harness)
    {
        // The embedded cluster: the driver, head and node share this process, so its working set is theirs.
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { LogToDriver = false });
        var first = harness.Quick ? 50_000 : 100_000;
        await RunTasksAsync(cluster, first);
        var after = WorkingSetMiB();
        await RunTasksAsync(cluster, first * 9);
        var afterTen = WorkingSetMiB();
        Record(harness, $"working_set_after_{first / 1000}k_tasks", after, "MiB", $"the driver's process (driver, head and node) after {first:N0} small tasks, after a full GC");
        Record(harness, $"working_set_after_{first * 10 / 1000}k_tasks", afterTen, "MiB", $"the same after {first * 10:N0} tasks");
        Record(harness, "working_set_growth_ratio", afterTen / after, "x", "after 10 N tasks / after N (goal <= 1.1: no growth per task)");
    }

    private static async Task RunTasksAsync(Cluster cluster, int count)
    {
        const int batch = 1000;
        for (var done = 0; done < count; done += batch)
        {
            var refs = Enumerable.Range(0, batch).Select(_ => cluster.Submit(() => BenchTasks.Noop())).ToList();
            await cluster.WaitAsync(refs, refs.Count, Timeout.InfiniteTimeSpan);
        }
    }

    private static double WorkingSetMiB()
    {
        // Released refs are collected and their values dropped before the figure is taken.
        for (var i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        Thread.Sleep(TimeSpan.FromSeconds(1));
        GC.Collect();
        using var self = Process.GetCurrentProcess();
        return self.WorkingSet64 / 1048576.0;
    }

    private static void Record(Harness harness, string name, double value, string unit, string description)
    {
        harness.Results.Add(new Measurement(name, value, 0, unit, description));
        Console.Error.WriteLine($"  {name}: {value:N2} {unit}");
    }
}
