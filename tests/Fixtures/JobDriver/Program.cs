// A submitted job's driver, as a user writes one: Cluster.InitAsync() with no options joins the
// cluster that started it, with the job's runtime env as its default.
// Usage: JobDriver run             prints where it runs, its working dir's hello.txt, and three tasks' MODE (from the job's env_vars); exits 0
//        JobDriver fail <status>   prints a line, then exits with <status>
//        JobDriver hold <name>     creates a NodeCounter actor named <name>, starts a task that sleeps, prints "holding", and waits to be stopped
using ClusterWork;
using Terrarium;

await using var cluster = await Cluster.InitAsync();
switch (args[0])
{
    case "run":
        Console.WriteLine($"driver of job {cluster.JobId}, MODE={Environment.GetEnvironmentVariable("MODE")}");
        Console.WriteLine($"hello.txt says: {File.ReadAllText("hello.txt").Trim()}");
        var modes = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => cluster.Submit(() => JobWork.Mode()).GetAsync()));
        Console.WriteLine($"tasks saw MODE={string.Join(",", modes)}");
        Console.Error.WriteLine("done");
        return 0;
    case "fail":
        Console.WriteLine("about to fail");
        return int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
    case "hold":
        var held = cluster.CreateActor(() => new NodeCounter(), new ActorOptions { Name = args[1], NumCpus = 0 });
        await held.Call(c => c.Add(1));
        _ = cluster.Submit(() => JobWork.Sleep(600));
        Console.WriteLine("holding");
        await Task.Delay(Timeout.Infinite);
        return 0;
    default:
        Console.Error.WriteLine($"unknown mode '{args[0]}'");
        return 64;
}

/// <summary>The job's tasks.</summary>
public static class JobWork
{
    /// <summary>The MODE env var the task's worker sees (the job's env_vars are its default env).</summary>
    public static string Mode() => Environment.GetEnvironmentVariable("MODE") ?? "unset";

    public static int Sleep(int seconds)
    {
        Thread.Sleep(TimeSpan.FromSeconds(seconds));
        return seconds;
    }
}
