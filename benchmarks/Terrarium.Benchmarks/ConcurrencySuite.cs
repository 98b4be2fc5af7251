namespace Terrarium.Benchmarks;

/// <summary>
/// Actors that run calls concurrently (<see cref="ActorOptions.MaxConcurrency"/> 8) against
/// one-at-a-time actors, with calls that wait (a 10 ms sleep, as I/O would) and calls that compute
/// (1 ms of one core): waiting calls should gain up to 8×, computing ones up to the machine's cores.
/// </summary>
public static class ConcurrencySuite
{
    private const int Calls = 64;

    public static async Task RunAsync(Harness harness)
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { LogToDriver = false });
        var one = cluster.CreateActor(() => new BenchActor(), new ActorOptions { MaxConcurrency = 1 });
        var eight = cluster.CreateActor(() => new BenchActor(), new ActorOptions { MaxConcurrency = 8 });
        await cluster.GetAsync([one.Call(a => a.Noop()), eight.Call(a => a.Noop())]);

        await harness.InterleavedRatesAsync(Calls,
            ("concurrent_8_sleeping_calls", $"{Calls} pipelined calls sleeping 10 ms each, MaxConcurrency = 8", () => CallAllAsync(cluster, eight, a => a.Sleep(10))),
            ("concurrent_1_sleeping_calls", "the same, MaxConcurrency = 1, rounds interleaved with the above", () => CallAllAsync(cluster, one, a => a.Sleep(10))));
        harness.Ratio("max_concurrency_8_vs_1_sleeping", "concurrent_8_sleeping_calls / concurrent_1_sleeping_calls (at most 8)", "concurrent_8_sleeping_calls", "concurrent_1_sleeping_calls");

        await harness.InterleavedRatesAsync(Calls,
            ("concurrent_8_cpu_calls", $"{Calls} pipelined calls computing 1 ms each, MaxConcurrency = 8", () => CallAllAsync(cluster, eight, a => a.Spin(1))),
            ("concurrent_1_cpu_calls", "the same, MaxConcurrency = 1, rounds interleaved with the above", () => CallAllAsync(cluster, one, a => a.Spin(1))));
        harness.Ratio("max_concurrency_8_vs_1_cpu", $"concurrent_8_cpu_calls / concurrent_1_cpu_calls (at most the cores: {Environment.ProcessorCount})", "concurrent_8_cpu_calls", "concurrent_1_cpu_calls");
    }

    private static async Task CallAllAsync(Cluster cluster, ActorHandle<BenchActor> actor, System.Linq.Expressions.Expression<Func<BenchActor, int>> call) =>
        await cluster.GetAsync(Enumerable.Range(0, Calls).Select(_ => actor.Call(call)).ToList());
}
