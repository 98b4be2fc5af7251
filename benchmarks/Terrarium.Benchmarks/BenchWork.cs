namespace Terrarium.Benchmarks;

/// <summary>The remote functions and actor the benchmarks call: as little work as possible.</summary>
public static class BenchTasks
{
    public static int Noop() => 0;
}

public sealed class BenchActor
{
    private int _calls;

    public int Noop() => ++_calls;

    public Task<int> NoopAsync() => Task.FromResult(++_calls);
}
