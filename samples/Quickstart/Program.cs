using Terrarium;

// No address: an embedded cluster (head + node) starts inside this process; workers are child processes.
await using var cluster = await Cluster.InitAsync(new ClusterOptions
{
    Job = new JobConfig { RuntimeEnv = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["GREETING"] = "hello" } } },
});

// Tasks: one call of a static method; arguments are evaluated now.
var squares = Enumerable.Range(1, 8).Select(i => cluster.Submit(() => Work.Square(i))).ToList();
Console.WriteLine($"squares: {string.Join(", ", await cluster.GetAsync(squares))}");

// Refs as arguments: the sum runs when both squares are ready, without the driver fetching them.
var sum = cluster.Submit(() => Work.Add(squares[2], squares[3]));
Console.WriteLine($"9 + 16 = {await sum}");

// Per-task runtime env: env_vars merge over the job's default, key by key.
var spanish = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["GREETING"] = "hola", ["NAME"] = "mundo" } };
Console.WriteLine(await cluster.Submit(() => Work.Greet()));
Console.WriteLine(await cluster.Submit(() => Work.Greet(), new TaskOptions { RuntimeEnv = spanish }));
Console.WriteLine($"driver sees GREETING={Environment.GetEnvironmentVariable("GREETING") ?? "(unset)"}");

// Nested tasks inherit the submitting worker's env.
Console.WriteLine(await cluster.Submit(() => Work.GreetFromChild(), new TaskOptions { RuntimeEnv = spanish }));

// Actors: a long-lived worker; calls run one at a time, in order.
var counter = cluster.CreateActor(() => new Counter(10), new ActorOptions { Name = "counter" });
var increments = Enumerable.Range(0, 5).Select(_ => counter.Call(c => c.Increment(1))).ToList();
Console.WriteLine($"counter: {string.Join(" ", await cluster.GetAsync(increments))}");
var same = await cluster.GetActorAsync<Counter>("counter");
Console.WriteLine($"by name: {await same.Call(c => c.Increment(100))}");

// Remote exceptions carry their type, message and stack.
try
{
    await cluster.Submit(() => Work.Fail("boom"));
}
catch (TaskFailedException e)
{
    Console.WriteLine($"task failed remotely with {e.RemoteType}: {e.RemoteMessage}");
}

await counter.KillAsync();
Console.WriteLine("done");

public static class Work
{
    public static int Square(int x) => x * x;

    public static int Add(int a, int b) => a + b;

    public static string Greet() =>
        $"{Environment.GetEnvironmentVariable("GREETING")}, {Environment.GetEnvironmentVariable("NAME") ?? "world"} (from pid {Environment.ProcessId})";

    public static async Task<string> GreetFromChild() => "child says: " + await Cluster.Current.Submit(() => Greet());

    public static int Fail(string message) => throw new InvalidOperationException(message);
}

public sealed class Counter(int start)
{
    private int _value = start;

    public int Increment(int by) => _value += by;
}
