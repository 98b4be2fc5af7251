namespace Terrarium.Benchmarks;

/// <summary>The remote functions and actor the benchmarks call: as little work as possible.</summary>
public static class BenchTasks
{
    public static int Noop() => 0;

    /// <summary>The node the task ran on.</summary>
    public static string Node() => RuntimeContext.Current.NodeId;

    public static byte[] Bytes(int mebibytes) => new byte[mebibytes << 20];

    public static int Length(byte[] data) => data.Length;

    public static ReadOnlyMemory<byte> Memory(int mebibytes) => new byte[mebibytes << 20];

    /// <summary>The length of a value bound without a copy: a large one is the store's mapping.</summary>
    public static int MappedLength(ReadOnlyMemory<byte> data) => data.Length;

    /// <summary>Keeps one core busy for <paramref name="milliseconds"/>: work that more nodes finish sooner.</summary>
    public static int Spin(int milliseconds)
    {
        var until = System.Diagnostics.Stopwatch.GetTimestamp() + (milliseconds * System.Diagnostics.Stopwatch.Frequency / 1000);
        var spins = 0;
        while (System.Diagnostics.Stopwatch.GetTimestamp() < until)
        {
            spins++;
        }

        return spins;
    }
}

public sealed class BenchActor
{
    private int _calls;

    public int Noop() => ++_calls;

    public Task<int> NoopAsync() => Task.FromResult(++_calls);

    /// <summary>Waits as a call blocked on I/O would.</summary>
    public int Sleep(int milliseconds)
    {
        Thread.Sleep(milliseconds);
        return milliseconds;
    }

    public int Spin(int milliseconds) => BenchTasks.Spin(milliseconds);
}
