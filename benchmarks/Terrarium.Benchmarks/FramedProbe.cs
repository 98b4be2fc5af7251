using System.Buffers;
using System.Diagnostics;
using Terrarium.Protocol.Framing;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Benchmarks;

/// <summary>
/// The data plane's transport with nothing of Terrarium's around it: framed connections, their
/// handshake done. A ping-pong with another process over a Unix socket (the floor of a sync actor
/// call on the data plane), and 256 MiB in 1 MiB frames over loopback TCP into a buffer that stands
/// for a reserved store file (the floor of an object's hop between nodes). Beside
/// <see cref="RawIpc"/> and the gRPC probes, they show what the framing itself costs.
/// </summary>
public static class FramedProbe
{
    private const int MessageBytes = 64;
    private const int Pipelined = 1000;
    private const int MaxFrameBytes = 1 << 20;
    private static readonly ClusterCredentials Credentials = ClusterCredentials.UnixOnly("framed-probe");

    /// <summary>The child process: echoes every frame on the socket at <paramref name="path"/>.</summary>
    public static async Task RunEchoAsync(string path)
    {
        await using var listener = FramedListener.Start(Endpoint.UnixSocket(path), Credentials, MaxFrameBytes, async (connection, ct) =>
        {
            while (await connection.ReadAsync(ct) is { } frame)
            {
                await connection.SendAsync(frame.Type, frame.Payload.ToArray(), ct);
            }
        });
        Console.WriteLine("echo-ready");
        await Task.Delay(Timeout.Infinite);
    }

    public static async Task RunPingPongAsync(Harness harness)
    {
        var path = Path.Combine(Path.GetTempPath(), $"terrarium-bench-framed-{Environment.ProcessId}.sock");
        using var echo = await RawIpc.StartEchoAsync("--framed-echo", path);
        try
        {
            await using var connection = await FramedClient.ConnectAsync(Endpoint.UnixSocket(path), Credentials, MaxFrameBytes, CancellationToken.None);
            var message = new byte[MessageBytes];
            await harness.RateAsync("framed_pingpong_sync", "a 64-byte frame to another process over a framed Unix socket (handshake done) and back, in a loop", 1000, async () =>
            {
                for (var i = 0; i < 1000; i++)
                {
                    await connection.SendAsync(1, message);
                    _ = await connection.ReadAsync() ?? throw new InvalidOperationException("the echo closed the connection");
                }
            });

            await harness.RateAsync("framed_pingpong_pipelined", "1000 such frames in flight, then all their echoes", Pipelined, async () =>
            {
                var receiving = Task.Run(async () =>
                {
                    for (var i = 0; i < Pipelined; i++)
                    {
                        _ = await connection.ReadAsync() ?? throw new InvalidOperationException("the echo closed the connection");
                    }
                });
                for (var i = 0; i < Pipelined; i++)
                {
                    await connection.SendAsync(1, message);
                }

                await receiving;
            });
        }
        finally
        {
            echo.Kill();
            File.Delete(path);
        }
    }

    /// <summary>Sends <paramref name="mebibytes"/> MiB in 1 MiB frames over loopback TCP, with TLS unless <paramref name="tls"/> is false.</summary>
    public static async Task<TimeSpan> CopyAsync(int mebibytes, bool tls = true)
    {
        using var authority = ClusterCertificateAuthority.CreateEphemeral();
        var trust = tls ? ClusterTls.Trusting([authority.Certificate]) : ClusterTls.Insecure;
        var serving = new ClusterCredentials(Credentials.Token, tls ? trust.WithServerCertificate(authority.IssueWithNewKey("probe", ["127.0.0.1"])) : trust);
        // Stands for the receiver's reserved store file: its pages exist before the bytes arrive.
        var destination = new byte[(long)mebibytes << 20];
        Array.Fill(destination, (byte)1);
        var received = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var listener = FramedListener.Start(Endpoint.Tcp("127.0.0.1", 0), serving, MaxFrameBytes, async (connection, ct) =>
        {
            var offset = 0L;
            while (await connection.ReadAsync(ct) is { } frame)
            {
                frame.Payload.CopyTo(destination.AsSpan((int)offset));
                offset += frame.Payload.Length;
            }

            received.TrySetResult(offset);
        });

        var chunk = new byte[MaxFrameBytes];
        var watch = Stopwatch.StartNew();
        await using (var connection = await FramedClient.ConnectAsync(listener.Endpoint, new ClusterCredentials(Credentials.Token, trust), MaxFrameBytes, CancellationToken.None))
        {
            for (var i = 0; i < mebibytes; i++)
            {
                await connection.SendAsync(2, chunk);
            }
        }

        return await received.Task == destination.LongLength ? watch.Elapsed : throw new InvalidOperationException("the copy lost bytes");
    }
}
