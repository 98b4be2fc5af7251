using ClusterWork;

namespace Terrarium.IntegrationTests;

/// <summary>Work for the multi-node tests: each says where it ran.</summary>
public static class MultiNodeTasks
{
    public static string WhereAmI() => RuntimeContext.Current.NodeId;

    public static string SleepThenWhere(int milliseconds)
    {
        Thread.Sleep(milliseconds);
        return RuntimeContext.Current.NodeId;
    }

    /// <summary><paramref name="mebibytes"/> MiB of a pattern a checksum can tell from zeros or a shifted copy.</summary>
    public static byte[] MakeBytes(int mebibytes)
    {
        var data = new byte[mebibytes << 20];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = (byte)(i * 31 + (i >> 12));
        }

        return data;
    }

    public static byte[] PassOn(byte[] data) => [.. data];

    public static string Describe(byte[] data) => $"{data.Length}:{Checksum(data)} on {RuntimeContext.Current.NodeId}";

    public static long Checksum(byte[] data)
    {
        long sum = 0;
        for (var i = 0; i < data.Length; i++)
        {
            sum = (sum * 131) + data[i];
        }

        return sum;
    }

    /// <summary>Where this task's own code was loaded from, on which node.</summary>
    public static string CodeLocation() => $"{typeof(MultiNodeTasks).Assembly.Location} on {RuntimeContext.Current.NodeId}";

    /// <summary>A nested task that needs <paramref name="resource"/>: where its code was loaded from.</summary>
    public static async Task<string> NestedCodeLocation(string resource) =>
        await Cluster.Current.Submit(() => CodeLocation(), new TaskOptions { Resources = { [resource] = 1 } });

    /// <summary>Runs a nested task that needs <paramref name="resource"/>, then gives this worker's pid.</summary>
    public static async Task<int> NestedThenPid(string resource)
    {
        await Cluster.Current.Submit(() => CodeLocation(), new TaskOptions { Resources = { [resource] = 1 } });
        return Environment.ProcessId;
    }

    /// <summary>Creates a counter that needs <paramref name="resource"/>, calls it once, and gives its actor id.</summary>
    public static async Task<string> CreateCounterNeeding(string resource)
    {
        var counter = Cluster.Current.CreateActor(() => new ClusterWork.NodeCounter(), new ActorOptions { NumCpus = 0, Resources = { [resource] = 1 } });
        await counter.Call(c => c.Add(1));
        return counter.ActorId;
    }

    /// <summary>The first attempt notes its node in <paramref name="marker"/> and hangs; a retry returns its node.</summary>
    public static string HangUnlessRetried(string marker)
    {
        if (!File.Exists(marker))
        {
            File.WriteAllText(marker, RuntimeContext.Current.NodeId);
            Thread.Sleep(TimeSpan.FromMinutes(10));
        }

        return RuntimeContext.Current.NodeId;
    }

    /// <summary>A nested task given <paramref name="mebibytes"/> MiB made here: how it saw them.</summary>
    public static async Task<string> DescribeNested(int mebibytes)
    {
        var data = MakeBytes(mebibytes);
        return await Cluster.Current.Submit(() => Describe(data));
    }

    /// <summary>As <see cref="HangUnlessRetried"/>; a retry describes <paramref name="data"/>.</summary>
    public static string DescribeIfRetried(byte[] data, string marker)
    {
        HangUnlessRetried(marker);
        return Describe(data);
    }

    public static async Task<string> CallFromHere(ActorHandle<NodeCounter> counter, int by) =>
        $"{await counter.Call(c => c.Add(by))} via {RuntimeContext.Current.NodeId}";

    /// <summary>Adds 1 <paramref name="times"/> times without waiting between calls, then gives the totals in the order the calls were made.</summary>
    public static async Task<string> AddOnesFromHere(ActorHandle<NodeCounter> counter, int times)
    {
        var calls = Enumerable.Range(0, times).Select(_ => counter.Call(c => c.Add(1))).ToList();
        var totals = new List<int>();
        foreach (var call in calls)
        {
            totals.Add(await call);
        }

        return $"{string.Join(",", totals)} via {RuntimeContext.Current.NodeId}";
    }
}
