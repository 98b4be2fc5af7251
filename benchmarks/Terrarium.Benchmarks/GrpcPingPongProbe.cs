using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Terrarium.Protocol;
using Terrarium.Protocol.Transport;

namespace Terrarium.Benchmarks;

/// <summary>
/// An actor call's transport with nothing of Terrarium's around it: another process serves the
/// actor worker's Calls stream over a Unix socket (Kestrel, HTTP/2, the token check) and answers
/// each call at once; this process sends one empty call on it and waits for its answer, in a loop.
/// It is the floor of a sync actor call while every process crossing is gRPC.
/// </summary>
public static class GrpcPingPongProbe
{
    private static readonly Protocol.Security.ClusterCredentials Credentials = Protocol.Security.ClusterCredentials.UnixOnly("grpc-pingpong-probe");

    /// <summary>The child process: serves the Calls stream on the socket at <paramref name="path"/>.</summary>
    public static async Task RunEchoAsync(string path)
    {
        await using var server = await GrpcServer.StartAsync(
            [Endpoint.UnixSocket(path)], Credentials, NullLoggerFactory.Instance,
            services => services.AddSingleton<EchoWorker>(),
            app => app.MapGrpcService<EchoWorker>(), ct: CancellationToken.None);
        Console.WriteLine("echo-ready");
        await Task.Delay(Timeout.Infinite);
    }

    public static async Task RunAsync(Harness harness)
    {
        var path = Path.Combine(Path.GetTempPath(), $"terrarium-bench-grpc-{Environment.ProcessId}.sock");
        using var echo = await RawIpc.StartEchoAsync("--grpc-echo", path);
        try
        {
            var (channel, invoker) = ClusterChannel.Open(Endpoint.UnixSocket(path), Credentials);
            using (channel)
            {
                using var calls = new ActorWorker.ActorWorkerClient(invoker).Calls();
                var batch = new ActorCallBatch { Calls = { new ActorCall { WorkId = "probe", Method = new FunctionDescriptor() } } };
                await harness.RateAsync("grpc_pingpong_sync", "one empty actor call to another process's Calls stream (gRPC over a Unix socket) and its answer, in a loop", 1000, async () =>
                {
                    for (var i = 0; i < 1000; i++)
                    {
                        await calls.RequestStream.WriteAsync(batch);
                        if (!await calls.ResponseStream.MoveNext(CancellationToken.None))
                        {
                            throw new InvalidOperationException("the echo ended its stream");
                        }
                    }
                });
                await calls.RequestStream.CompleteAsync();
            }
        }
        finally
        {
            echo.Kill();
            File.Delete(path);
        }
    }

    /// <summary>Answers every call of a batch with an empty result, at once.</summary>
    private sealed class EchoWorker : ActorWorker.ActorWorkerBase
    {
        public override async Task Calls(IAsyncStreamReader<ActorCallBatch> requestStream, IServerStreamWriter<ActorResultBatch> responseStream, ServerCallContext context)
        {
            while (await requestStream.MoveNext(context.CancellationToken))
            {
                var results = new ActorResultBatch();
                foreach (var call in requestStream.Current.Calls)
                {
                    results.Results.Add(new WorkDone { WorkId = call.WorkId, Value = Google.Protobuf.ByteString.Empty });
                }

                await responseStream.WriteAsync(results);
            }
        }
    }
}
