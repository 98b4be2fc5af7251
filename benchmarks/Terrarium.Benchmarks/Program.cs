using System.CommandLine;
using Terrarium.Benchmarks;

var quick = new Option<bool>("--quick") { Description = "Fewer rounds and calls: a smoke run, not figures to quote" };
var only = new Option<string[]>("--only") { Description = "Run only these groups: terrarium, env, container, cluster, orleans", AllowMultipleArgumentsPerToken = true };
var containerImage = new Option<string>("--container-image")
{
    Description = "The image the container group runs workers in (present on this machine)",
    DefaultValueFactory = _ => ContainerSuite.DefaultImage,
};
var silo = new Option<int?>("--orleans-silo") { Description = "Internal: host the Orleans peer's silo with this gateway port", Hidden = true };
var root = new RootCommand("Terrarium's benchmarks: Ray's microbenchmark set, worker start, env overhead, and an Orleans peer")
{
    quick, only, containerImage, silo,
};
root.SetAction(async (parse, ct) =>
{
    if (parse.GetValue(silo) is { } gatewayPort)
    {
        await OrleansPeer.RunSiloAsync(gatewayPort);
        return 0;
    }

    var isQuick = parse.GetValue(quick);
    var groups = parse.GetValue(only) is { Length: > 0 } chosen ? chosen : ["terrarium", "env", "container", "cluster", "orleans"];
    var harness = new Harness(isQuick);
    if (groups.Contains("terrarium"))
    {
        Console.Error.WriteLine("Terrarium (embedded cluster):");
        await TerrariumSuite.RunAsync(harness);
    }

    if (groups.Contains("env"))
    {
        Console.Error.WriteLine("Runtime environments:");
        await EnvSuite.RunAsync(harness);
        await PythonSuite.RunAsync(harness);
    }

    if (groups.Contains("container"))
    {
        Console.Error.WriteLine("Workers in containers:");
        await ContainerSuite.RunAsync(harness, parse.GetValue(containerImage)!);
    }

    if (groups.Contains("cluster"))
    {
        Console.Error.WriteLine("A cluster of real head and node processes:");
        await ClusterSuite.RunAsync(harness);
    }

    if (groups.Contains("orleans"))
    {
        Console.Error.WriteLine("Orleans peer:");
        await OrleansPeer.RunAsync(harness);
    }

    Report.Print(harness.Results);
    Console.WriteLine($"written to {Report.Write(harness.Results, isQuick)}");
    return 0;
});
return await root.Parse(args).InvokeAsync();
