using System.CommandLine;
using Terrarium.Benchmarks;

var quick = new Option<bool>("--quick") { Description = "Fewer rounds and calls: a smoke run, not figures to quote" };
var only = new Option<string[]>("--only") { Description = "Run only these groups: terrarium, memory, env, lifecycle, concurrency, container, cluster, orleans", AllowMultipleArgumentsPerToken = true };
var containerImage = new Option<string>("--container-image")
{
    Description = "The image the container group runs workers in (present on this machine)",
    DefaultValueFactory = _ => ContainerSuite.DefaultImage,
};
var results = new Option<string?>("--results") { Description = "Where to write the figures as JSON (default: benchmarks/results/latest.json)" };
var silo = new Option<int?>("--orleans-silo") { Description = "Internal: host the Orleans peer's silo with this gateway port", Hidden = true };
var udsEcho = new Option<string?>("--uds-echo") { Description = "Internal: echo messages on this Unix socket (the raw IPC yardstick)", Hidden = true };
var grpcEcho = new Option<string?>("--grpc-echo") { Description = "Internal: answer actor calls over gRPC on this Unix socket (the gRPC yardstick)", Hidden = true };
var framedEcho = new Option<string?>("--framed-echo") { Description = "Internal: echo frames on this Unix socket (the data plane's yardstick)", Hidden = true };
var root = new RootCommand("Terrarium's benchmarks: Ray's microbenchmark set, worker start, env overhead, and an Orleans peer")
{
    quick, only, containerImage, results, silo, udsEcho, grpcEcho, framedEcho,
};
root.SetAction(async (parse, ct) =>
{
    if (parse.GetValue(silo) is { } gatewayPort)
    {
        await OrleansPeer.RunSiloAsync(gatewayPort);
        return 0;
    }

    if (parse.GetValue(udsEcho) is { } socketPath)
    {
        await RawIpc.RunEchoAsync(socketPath);
        return 0;
    }

    if (parse.GetValue(grpcEcho) is { } grpcSocketPath)
    {
        await GrpcPingPongProbe.RunEchoAsync(grpcSocketPath);
        return 0;
    }

    if (parse.GetValue(framedEcho) is { } framedSocketPath)
    {
        await FramedProbe.RunEchoAsync(framedSocketPath);
        return 0;
    }

    var isQuick = parse.GetValue(quick);
    var groups = parse.GetValue(only) is { Length: > 0 } chosen ? chosen : ["terrarium", "memory", "env", "lifecycle", "concurrency", "container", "cluster", "orleans"];
    var harness = new Harness(isQuick);
    if (groups.Contains("terrarium"))
    {
        await harness.GroupAsync("terrarium", "Terrarium (embedded cluster):", () => TerrariumSuite.RunAsync(harness));
        await harness.GroupAsync("terrarium", "The machine's floor (raw IPC):", async () =>
        {
            await RawIpc.RunAsync(harness);
            await GrpcPingPongProbe.RunAsync(harness);
            await FramedProbe.RunPingPongAsync(harness);
        });
        harness.Ratio("actor_sync_vs_raw_uds", "1_1_actor_calls_sync / raw_uds_pingpong_sync (goal >= 0.5)", "1_1_actor_calls_sync", "raw_uds_pingpong_sync");
        harness.Ratio("actor_async_vs_raw_uds", "1_1_actor_calls_async / raw_uds_pingpong_pipelined", "1_1_actor_calls_async", "raw_uds_pingpong_pipelined");
        harness.Ratio("grpc_pingpong_vs_raw_uds", "grpc_pingpong_sync / raw_uds_pingpong_sync (the ceiling of a sync call while every crossing is gRPC)", "grpc_pingpong_sync", "raw_uds_pingpong_sync");
        harness.Ratio("framed_pingpong_vs_raw_uds", "framed_pingpong_sync / raw_uds_pingpong_sync (the ceiling of a sync call on the data plane)", "framed_pingpong_sync", "raw_uds_pingpong_sync");
        harness.Ratio("framed_pingpong_vs_grpc", "framed_pingpong_sync / grpc_pingpong_sync (what leaving HTTP/2 gains a sync call)", "framed_pingpong_sync", "grpc_pingpong_sync");
        harness.Ratio("framed_pipelined_vs_raw_uds", "framed_pingpong_pipelined / raw_uds_pingpong_pipelined", "framed_pingpong_pipelined", "raw_uds_pingpong_pipelined");
        harness.Ratio("actor_sync_vs_grpc_pingpong", "1_1_actor_calls_sync / grpc_pingpong_sync (what Terrarium adds to its transport)", "1_1_actor_calls_sync", "grpc_pingpong_sync");
        harness.Ratio("tasks_sync_vs_raw_uds", "single_client_tasks_sync / raw_uds_pingpong_sync", "single_client_tasks_sync", "raw_uds_pingpong_sync");
    }

    if (groups.Contains("memory"))
    {
        await harness.GroupAsync("memory", "Memory per task:", () => MemorySuite.RunAsync(harness));
    }

    if (groups.Contains("env"))
    {
        await harness.GroupAsync("env", "Runtime environments:", async () =>
        {
            await EnvSuite.RunAsync(harness);
            await PythonSuite.RunAsync(harness);
        });
    }

    if (groups.Contains("lifecycle"))
    {
        await harness.GroupAsync("lifecycle", "The env lifecycle:", () => LifecycleSuite.RunAsync(harness));
    }

    if (groups.Contains("concurrency"))
    {
        await harness.GroupAsync("concurrency", "Actors that run calls concurrently:", () => ConcurrencySuite.RunAsync(harness));
    }

    if (groups.Contains("container"))
    {
        await harness.GroupAsync("container", "Workers in containers:", () => ContainerSuite.RunAsync(harness, parse.GetValue(containerImage)!));
    }

    if (groups.Contains("cluster"))
    {
        await harness.GroupAsync("cluster", "A cluster of real head and node processes:", () => ClusterSuite.RunAsync(harness));
    }

    if (groups.Contains("orleans"))
    {
        await harness.GroupAsync("orleans", "Orleans peer:", () => OrleansPeer.RunAsync(harness));
    }

    Report.Print(harness.Results, harness.Failures);
    Console.WriteLine($"written to {Report.Write(harness.Results, harness.Failures, isQuick, parse.GetValue(results))}");
    // The figures measured are written either way; a failed group still fails the run.
    return harness.Failures.Count == 0 ? 0 : 1;
});
return await root.Parse(args).InvokeAsync();
