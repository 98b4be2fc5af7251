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

// The headline: a NuGet version this program does not use. It references Newtonsoft.Json 13; the
// task's env restores 12.0.3 on the node and its worker loads that one (needs access to nuget.org).
var json12 = new RuntimeEnv { NuGet = ["Newtonsoft.Json@12.0.3"] };
Console.WriteLine($"Newtonsoft.Json: driver {Work.JsonVersion()}, task {await cluster.Submit(() => Work.JsonVersion(), new TaskOptions { RuntimeEnv = json12 })}");

// Files shipped with the task: the folder 'data' next to this program is packed, sent to the node
// and unpacked there, and the task runs in it (it reads words.txt by its relative path).
var withData = new RuntimeEnv { WorkingDir = "data" };
Console.WriteLine(await cluster.Submit(() => Work.CountWords("words.txt"), new TaskOptions { RuntimeEnv = withData }));

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

    public static string JsonVersion() => typeof(Newtonsoft.Json.JsonConvert).Assembly.GetName().Version!.ToString();

    public static string CountWords(string file) =>
        $"{file} has {File.ReadAllText(file).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length} words (read in {Environment.CurrentDirectory})";
}

public sealed class Counter(int start)
{
    private int _value = start;

    public int Increment(int by) => _value += by;
}
