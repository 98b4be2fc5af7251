using System.Diagnostics;
using System.Net.Sockets;

namespace Terrarium.Benchmarks;

/// <summary>
/// The floor of any cross-process call on this machine: two processes exchanging a small message
/// over a Unix socket, one at a time and 1,000 in flight. Terrarium's figures are put against it.
/// </summary>
public static class RawIpc
{
    private const int MessageBytes = 64;
    private const int Pipelined = 1000;

    /// <summary>The child process: echoes every message back on the socket at <paramref name="path"/>.</summary>
    public static async Task RunEchoAsync(string path)
    {
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        Console.WriteLine("echo-ready");
        using var connection = await listener.AcceptAsync();
        var buffer = new byte[MessageBytes * Pipelined];
        while (await connection.ReceiveAsync(buffer) is var read and > 0)
        {
            await connection.SendAsync(buffer.AsMemory(0, read));
        }
    }

    public static async Task RunAsync(Harness harness)
    {
        var path = Path.Combine(Path.GetTempPath(), $"terrarium-bench-{Environment.ProcessId}.sock");
        using var echo = await StartEchoAsync("--uds-echo", path);
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
            var message = new byte[MessageBytes];
            var reply = new byte[MessageBytes * Pipelined];
            await harness.RateAsync("raw_uds_pingpong_sync", "a 64-byte message to another process over a Unix socket and back, in a loop", 1000, async () =>
            {
                for (var i = 0; i < 1000; i++)
                {
                    await socket.SendAsync(message);
                    await ReceiveAsync(socket, reply, MessageBytes);
                }
            });

            var batch = new byte[MessageBytes * Pipelined];
            await harness.RateAsync("raw_uds_pingpong_pipelined", "1000 such messages in flight, then all their echoes", Pipelined, async () =>
            {
                var receiving = ReceiveAsync(socket, reply, batch.Length);
                await socket.SendAsync(batch);
                await receiving;
            });
        }
        finally
        {
            echo.Kill();
            File.Delete(path);
        }
    }

    /// <summary>Starts this program as an echo process (<paramref name="option"/> on <paramref name="path"/>), once it listens.</summary>
    internal static async Task<Process> StartEchoAsync(string option, string path)
    {
        var echo = Process.Start(new ProcessStartInfo(Node.WorkerHostCommand.CurrentDotnet())
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "Terrarium.Benchmarks.dll"), option, path },
            RedirectStandardOutput = true,
        })!;
        while (await echo.StandardOutput.ReadLineAsync() is { } line && line != "echo-ready")
        {
        }

        return echo;
    }

    private static async Task ReceiveAsync(Socket socket, byte[] buffer, int bytes)
    {
        for (var received = 0; received < bytes;)
        {
            received += await socket.ReceiveAsync(buffer.AsMemory(received, bytes - received));
        }
    }
}
