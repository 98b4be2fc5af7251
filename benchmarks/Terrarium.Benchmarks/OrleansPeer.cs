using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Terrarium.Benchmarks;

public interface IBenchGrain : IGrainWithIntegerKey
{
    Task<int> Noop();
}

public sealed class BenchGrain : Grain, IBenchGrain
{
    private int _calls;

    public Task<int> Noop() => Task.FromResult(++_calls);
}

/// <summary>
/// The .NET peer: an Orleans client calling a grain on a silo in another process on localhost, as
/// Terrarium's driver calls an actor in another process.
/// </summary>
public static class OrleansPeer
{
    /// <summary>The silo process: this benchmark run with <c>--orleans-silo PORT</c>.</summary>
    public static async Task RunSiloAsync(int gatewayPort)
    {
        var host = Host.CreateDefaultBuilder()
            .ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Warning))
            .UseOrleans(silo => silo.UseLocalhostClustering(siloPort: FreePort(), gatewayPort: gatewayPort))
            .Build();
        await host.StartAsync();
        Console.WriteLine("silo-ready");
        // The parent ends the silo by closing our stdin.
        await Console.In.ReadToEndAsync();
        await host.StopAsync();
    }

    public static async Task RunAsync(Harness harness)
    {
        var gatewayPort = FreePort();
        using var silo = Process.Start(new ProcessStartInfo(Node.WorkerHostCommand.CurrentDotnet())
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "Terrarium.Benchmarks.dll"), "--orleans-silo", gatewayPort.ToString() },
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
        })!;
        try
        {
            while (await silo.StandardOutput.ReadLineAsync() is { } line && line != "silo-ready")
            {
            }

            if (silo.HasExited)
            {
                throw new InvalidOperationException($"the Orleans silo exited with code {silo.ExitCode} before it was ready");
            }

            // Keep reading so that the silo never blocks on a full pipe.
            _ = silo.StandardOutput.ReadToEndAsync();

            using var client = Host.CreateDefaultBuilder()
                .ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Warning))
                .UseOrleansClient(c => c.UseLocalhostClustering(gatewayPort))
                .Build();
            await client.StartAsync();
            var grain = client.Services.GetRequiredService<IClusterClient>().GetGrain<IBenchGrain>(0);
            await grain.Noop();

            var syncCalls = 100;
            await harness.RateAsync("orleans_grain_calls_sync", "Orleans peer: call a grain in another process and await, in a loop", syncCalls, async () =>
            {
                for (var i = 0; i < syncCalls; i++)
                {
                    await grain.Noop();
                }
            });
            await harness.RateAsync("orleans_grain_calls_async", "Orleans peer: 1000 pipelined grain calls", 1000, async () =>
            {
                await Task.WhenAll(Enumerable.Range(0, 1000).Select(_ => grain.Noop()));
            });
            await client.StopAsync();
        }
        finally
        {
            silo.StandardInput.Close();
            if (!silo.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                silo.Kill(entireProcessTree: true);
            }
        }

        harness.Ratio("actor_sync_vs_orleans", "1_1_actor_calls_sync / orleans_grain_calls_sync (goal >= 1)", "1_1_actor_calls_sync", "orleans_grain_calls_sync");
        harness.Ratio("actor_async_vs_orleans", "1_1_actor_calls_async / orleans_grain_calls_async (goal >= 1)", "1_1_actor_calls_async", "orleans_grain_calls_async");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
