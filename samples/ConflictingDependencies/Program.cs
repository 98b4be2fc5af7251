using System.Reflection;
using Newtonsoft.Json;
using Terrarium;

// One application, three versions of Newtonsoft.Json: the driver's 13.0.3, a task's 12.0.3 and an
// actor's 13.0.1. Each environment is restored on the node and loaded in its own worker.
await using var cluster = await Cluster.InitAsync();

var legacy = new RuntimeEnv { NuGet = ["Newtonsoft.Json@12.0.3"] };
var pinned = new RuntimeEnv { NuGet = ["Newtonsoft.Json@[13.0.1]"] };

Console.WriteLine($"driver sees  {Json.Describe()}");
Console.WriteLine($"task sees    {await cluster.Submit(() => Json.Describe(), new TaskOptions { RuntimeEnv = legacy })}");

var actor = cluster.CreateActor(() => new JsonActor(), new ActorOptions { RuntimeEnv = pinned });
Console.WriteLine($"actor sees   {await actor.Call(a => a.Describe())}");

// The same code serializes with whichever version its environment provides.
Console.WriteLine($"task output  {await cluster.Submit(() => Json.Serialize(new[] { 1, 2, 3 }), new TaskOptions { RuntimeEnv = legacy })}");
await actor.KillAsync();

public static class Json
{
    public static string Describe()
    {
        var assembly = typeof(JsonConvert).Assembly;
        var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0];
        return $"Newtonsoft.Json {version} (pid {Environment.ProcessId}, {RuntimeContext.Current.NuGetPackages.Count} restored packages)";
    }

    public static string Serialize(int[] values) => JsonConvert.SerializeObject(values);
}

public sealed class JsonActor
{
    public string Describe() => Json.Describe();
}
