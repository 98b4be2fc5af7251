using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Terrarium.IntegrationTests;

/// <summary>A real <c>redis-server</c> on a free loopback port, nothing saved to disk, ended with the test.</summary>
public sealed class RedisServer : IDisposable
{
    private readonly Process _process;

    private RedisServer(Process process, int port)
    {
        _process = process;
        Url = $"redis://127.0.0.1:{port}";
    }

    public string Url { get; }

    public static async Task<RedisServer> StartAsync()
    {
        Requirements.Tool("redis-server", "the head's Redis persistence is tested against a real Redis (apt-get install redis-server)");
        var port = TestProcesses.FreePort();
        var process = Process.Start(new ProcessStartInfo("redis-server",
            ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        _ = process.StandardOutput.ReadToEndAsync();
        var server = new RedisServer(process, port);
        await TestWaits.UntilAsync(() => Accepts(port) || process.HasExited, "redis-server listens");
        return process.HasExited ? throw new InvalidOperationException($"redis-server exited with {process.ExitCode}") : server;
    }

    public void Dispose()
    {
        _process.Kill();
        _process.WaitForExit();
        _process.Dispose();
    }

    private static bool Accepts(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
