using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Text;
using Terrarium.Protocol.Framing;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Tests.Protocol.Framing;

/// <summary>
/// Framed connections over real sockets: frames cross whole and in order, the handshake proves the
/// token without sending it and refuses before reading anything else, limits hold before anything
/// is allocated, and TLS guards TCP.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class FramedConnectionTests : IAsyncLifetime
{
    private const string Token = "framed-tests-token-that-must-never-cross";
    private const int Limit = 16 << 20;
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("terrarium-framed-");
    private readonly List<IAsyncDisposable> _listeners = [];
    private int _handled;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var listener in _listeners)
        {
            await listener.DisposeAsync();
        }

        _folder.Delete(recursive: true);
    }

    [Fact]
    public async Task Frames_CrossInOrderBothWays_ALargeOneWhole_AndAnEmptyOne()
    {
        var endpoint = Echo();
        await using var connection = await ConnectAsync(endpoint);
        var large = RandomNumberGenerator.GetBytes(8 << 20);

        await connection.SendAsync(1, "first"u8.ToArray());
        await connection.SendAsync(2, large);
        await connection.SendAsync(3, ReadOnlyMemory<byte>.Empty);

        Assert.Equal((1, "first"), Text(await connection.ReadAsync()));
        var echoed = (await connection.ReadAsync())!.Value;
        Assert.Equal(2, echoed.Type);
        Assert.True(echoed.Payload.ToArray().AsSpan().SequenceEqual(large));
        Assert.Equal((3, ""), Text(await connection.ReadAsync()));
    }

    [Fact]
    public async Task HasMoreBuffered_SaysWhetherThePeerSentAhead_OfTheFrameJustRead()
    {
        var seen = new TaskCompletionSource<bool[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        var endpoint = Listen(async (connection, ct) =>
        {
            await connection.ReadAsync(ct);
            var afterFirst = connection.HasMoreBuffered;
            await connection.ReadAsync(ct);
            seen.TrySetResult([afterFirst, connection.HasMoreBuffered]);
        });
        using var socket = await RawUnixAsync(endpoint);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await FrameHandshake.AsClientAsync(stream, FrameHandshake.KeyOf(Token), CancellationToken.None);

        // Two frames in one write: the second has arrived when the first is read.
        await stream.WriteAsync(FrameBytes(1, "first").Concat(FrameBytes(1, "second")).ToArray());

        var flags = await seen.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(new[] { true, false }, flags);
    }

    [Fact]
    public async Task ConnectToFirst_PassesOverAUnixSocketItCannotReach_ToTheNextEndpoint_AndThrowsTheLastOnesFailure()
    {
        var missing = Endpoint.UnixSocket(Path.Combine(_folder.FullName, "missing.sock"));
        var echo = Echo();

        await using (var connection = await FramedClient.ConnectToFirstAsync([missing, echo], ClusterCredentials.UnixOnly(Token), Limit, CancellationToken.None))
        {
            await connection.SendAsync(1, "reached"u8.ToArray());
            Assert.Equal((1, "reached"), Text(await connection.ReadAsync()));
        }

        await Assert.ThrowsAsync<SocketException>(() => FramedClient.ConnectToFirstAsync([echo, missing], ClusterCredentials.UnixOnly("wrong-token-of-another-cluster"), Limit, CancellationToken.None));
    }

    [Fact]
    public async Task RawBytes_AfterAFrame_AreReadWhole_ThoseBufferedBehindTheFrameFirst_AndFramesGoOnAfterThem()
    {
        var seen = new TaskCompletionSource<(string Raw, string After)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var endpoint = Listen(async (connection, ct) =>
        {
            var announced = (await connection.ReadAsync(ct))!.Value;
            var length = int.Parse(Encoding.UTF8.GetString(announced.Payload.ToArray()), System.Globalization.CultureInfo.InvariantCulture);
            var raw = new byte[length];
            for (var filled = 0; filled < length;)
            {
                filled += await connection.ReadRawAsync(raw.AsMemory(filled), ct);
            }

            seen.TrySetResult((Encoding.UTF8.GetString(raw), Text(await connection.ReadAsync(ct)).Text));
        });
        using var socket = await RawUnixAsync(endpoint);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await FrameHandshake.AsClientAsync(stream, FrameHandshake.KeyOf(Token), CancellationToken.None);

        // The frame and the first raw bytes in one write (they arrive buffered together); the rest later.
        await stream.WriteAsync(FrameBytes(1, "11").Concat("hello "u8.ToArray()).ToArray());
        await Task.Delay(100);
        await stream.WriteAsync("world"u8.ToArray().Concat(FrameBytes(2, "next")).ToArray());

        Assert.Equal(("hello world", "next"), await seen.Task.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task ConcurrentWriters_TheirFramesNeverInterleave_AndEachWritersOrderHolds()
    {
        var endpoint = Echo();
        await using var connection = await ConnectAsync(endpoint);
        const int writers = 8, frames = 200;

        var reading = Task.Run(async () =>
        {
            var seen = new List<string>();
            for (var i = 0; i < writers * frames; i++)
            {
                seen.Add(Text(await connection.ReadAsync()).Text);
            }

            return seen;
        });
        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < frames; i++)
            {
                // Sizes around the direct-write threshold, so that both write paths interleave.
                var padding = new string('.', (i % 3) * 40_000);
                await connection.SendAsync(7, Encoding.ASCII.GetBytes($"{w}:{i}:{padding}"));
            }
        })));

        var seen = await reading.WaitAsync(TimeSpan.FromSeconds(60));
        foreach (var writer in Enumerable.Range(0, writers))
        {
            var order = seen.Select(s => s.Split(':')).Where(p => p[0] == writer.ToString()).Select(p => int.Parse(p[1])).ToList();
            Assert.Equal(Enumerable.Range(0, frames), order);
        }
    }

    [Fact]
    public async Task Client_WithAnotherToken_LearnsTheServerIsNotItsCluster_AndTheServerHandlesNothing()
    {
        var endpoint = Echo();

        var error = await Assert.ThrowsAsync<FrameHandshakeException>(() =>
            FramedClient.ConnectAsync(endpoint, ClusterCredentials.UnixOnly("another-token"), Limit, CancellationToken.None));

        Assert.Contains("the server does not hold the cluster token", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, Volatile.Read(ref _handled));
    }

    [Fact]
    public async Task Server_RefusesAProofMadeWithoutTheToken_ThenClosesWithoutReadingWhatFollows()
    {
        var endpoint = Echo();
        using var socket = await RawUnixAsync(endpoint);
        await socket.SendAsync(Hello(FrameHandshake.Version));
        var answer = await ReceiveExactlyAsync(socket, 4 + 1 + 32 + 32);
        Assert.Equal("TRRM", Encoding.ASCII.GetString(answer, 0, 4));

        // A guess at the proof, and a frame right behind it that must never reach a handler.
        await socket.SendAsync(RandomNumberGenerator.GetBytes(32).Concat(FrameBytes(1, "sneaked in")).ToArray());

        Assert.Equal([0], await ReceiveExactlyAsync(socket, 1));
        await AssertClosedAsync(socket);
        Assert.Equal(0, Volatile.Read(ref _handled));
    }

    [Fact]
    public async Task Client_ToAListenerThatIsNotOurs_SendsOnlyItsHello_NeverTheTokenNorAProof()
    {
        var path = Path.Combine(_folder.FullName, "impostor.sock");
        using var impostor = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        impostor.Bind(new UnixDomainSocketEndPoint(path));
        impostor.Listen();
        var recording = Task.Run(async () =>
        {
            using var accepted = await impostor.AcceptAsync();
            // An answer in the right shape, with a proof made up.
            await accepted.SendAsync("TRRM"u8.ToArray().Append(FrameHandshake.Version).Concat(RandomNumberGenerator.GetBytes(64)).ToArray());
            var received = new MemoryStream();
            var buffer = new byte[4096];
            while (await accepted.ReceiveAsync(buffer) is var read and > 0)
            {
                received.Write(buffer, 0, read);
            }

            return received.ToArray();
        });

        var error = await Assert.ThrowsAsync<FrameHandshakeException>(() => ConnectAsync(Endpoint.UnixSocket(path)));
        var received = await recording.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Contains("does not hold the cluster token", error.Message, StringComparison.Ordinal);
        Assert.Equal(4 + 1 + 32, received.Length); // the hello: magic, version, a nonce
        Assert.DoesNotContain(Token, Encoding.Latin1.GetString(received), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Hello_OfAnotherVersion_IsAnsweredWithTheServersVersionOnly_AndAClientSaysWhatDiffers()
    {
        var endpoint = Echo();
        using var socket = await RawUnixAsync(endpoint);
        await socket.SendAsync(Hello(99));

        var answer = await ReceiveExactlyAsync(socket, 4 + 1 + 32 + 32);
        Assert.Equal(FrameHandshake.Version, answer[4]);
        Assert.All(answer[5..], b => Assert.Equal(0, b));
        await AssertClosedAsync(socket);

        // The same seen from a client of this version, meeting a server of another.
        var path = Path.Combine(_folder.FullName, "newer.sock");
        using var newer = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        newer.Bind(new UnixDomainSocketEndPoint(path));
        newer.Listen();
        _ = Task.Run(async () =>
        {
            using var accepted = await newer.AcceptAsync();
            await ReceiveExactlyAsync(accepted, 4 + 1 + 32);
            await accepted.SendAsync("TRRM"u8.ToArray().Append((byte)2).Concat(new byte[64]).ToArray());
            await accepted.ReceiveAsync(new byte[16]);
        });
        var error = await Assert.ThrowsAsync<FrameHandshakeException>(() => ConnectAsync(Endpoint.UnixSocket(path)));
        Assert.Contains("the server speaks framing version 2, this process version 1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FrameAnnouncedOverTheLimit_EndsTheConnection_BeforeItsBodyComes()
    {
        var refusal = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var endpoint = Listen(async (connection, ct) =>
        {
            try
            {
                await connection.ReadAsync(ct);
            }
            catch (InvalidDataException e)
            {
                refusal.TrySetResult(e.Message);
                throw;
            }
        }, maxFrameBytes: 1024);
        using var socket = await RawUnixAsync(endpoint);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await FrameHandshake.AsClientAsync(stream, FrameHandshake.KeyOf(Token), CancellationToken.None);

        var header = new byte[FramedConnection.HeaderBytes];
        BinaryPrimitives.WriteUInt32BigEndian(header, 1u << 31);
        await stream.WriteAsync(header);

        Assert.Equal("the peer announced a frame of 2147483648 bytes, over this connection's limit of 1024", await refusal.Task.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, await stream.ReadAsync(new byte[16]));
    }

    [Fact]
    public async Task Send_OverTheLimit_IsRefusedBeforeAnythingIsWritten()
    {
        var endpoint = Echo();
        await using var connection = await FramedClient.ConnectAsync(endpoint, ClusterCredentials.UnixOnly(Token), 8, CancellationToken.None);

        var error = await Assert.ThrowsAsync<ArgumentException>(async () => await connection.SendAsync(1, new byte[9]));
        await connection.SendAsync(1, "fits"u8.ToArray());

        Assert.StartsWith("a frame of 9 bytes is over this connection's limit of 8", error.Message, StringComparison.Ordinal);
        Assert.Equal((1, "fits"), Text(await connection.ReadAsync()));
    }

    [Fact]
    public async Task PeerThatClosesInsideAFrame_IsAnError_AndOneThatClosesBetweenFrames_IsTheEnd()
    {
        var ends = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var endpoint = Listen(async (connection, ct) =>
        {
            try
            {
                while (await connection.ReadAsync(ct) is not null)
                {
                }

                ends.TrySetResult("end");
            }
            catch (InvalidDataException e)
            {
                ends.TrySetResult(e.Message);
            }
        });

        foreach (var (bytes, expected) in new[]
        {
            (FrameBytes(1, "whole"), "end"),
            (FrameBytes(1, "whole")[..7], "the peer closed the connection inside a frame (7 bytes of it had come)"),
        })
        {
            ends = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            using (var socket = await RawUnixAsync(endpoint))
            {
                await using var stream = new NetworkStream(socket, ownsSocket: false);
                await FrameHandshake.AsClientAsync(stream, FrameHandshake.KeyOf(Token), CancellationToken.None);
                await stream.WriteAsync(bytes);
                socket.Shutdown(SocketShutdown.Send);
                Assert.Equal(expected, await ends.Task.WaitAsync(TimeSpan.FromSeconds(30)));
            }
        }
    }

    [Fact]
    public async Task Tcp_WithTheClustersCa_CarriesFrames_AndAClientTrustingAnotherCa_FailsBeforeTheHandshake()
    {
        using var cluster = ClusterCertificateAuthority.CreateEphemeral();
        using var other = ClusterCertificateAuthority.CreateEphemeral();
        var serving = new ClusterCredentials(Token, ClusterTls.Trusting([cluster.Certificate]).WithServerCertificate(cluster.IssueWithNewKey("framed", ["127.0.0.1"])));
        var endpoint = Listen(EchoAsync, credentials: serving, endpoint: Endpoint.Tcp("127.0.0.1", 0));

        await using (var connection = await FramedClient.ConnectAsync(endpoint, new ClusterCredentials(Token, ClusterTls.Trusting([cluster.Certificate])), Limit, CancellationToken.None))
        {
            await connection.SendAsync(5, "over tls"u8.ToArray());
            Assert.Equal((5, "over tls"), Text(await connection.ReadAsync()));
        }

        Volatile.Write(ref _handled, 0);
        await Assert.ThrowsAsync<AuthenticationException>(() =>
            FramedClient.ConnectAsync(endpoint, new ClusterCredentials(Token, ClusterTls.Trusting([other.Certificate])), Limit, CancellationToken.None));
        Assert.Equal(0, Volatile.Read(ref _handled));
    }

    [Fact]
    public async Task Tcp_WithNothingToTrustItWith_IsRefusedBeforeConnecting_AndAListenerWithoutACertificateIsNotStarted()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            FramedClient.ConnectAsync(Endpoint.Tcp("127.0.0.1", 1), ClusterCredentials.UnixOnly(Token), Limit, CancellationToken.None));
        var listening = Assert.Throws<InvalidOperationException>(() =>
            FramedListener.Start(Endpoint.Tcp("127.0.0.1", 0), ClusterCredentials.UnixOnly(Token), Limit, EchoAsync));

        Assert.Contains("has no certificate authority to check it with", error.Message, StringComparison.Ordinal);
        Assert.Contains("needs a certificate to serve TLS with", listening.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task UnixSocket_ServedByAnotherUser_GetsNotEvenTheHello_AndAnotherUsersClientGetsNoAnswer()
    {
        Requirements.Root();
        var shared = Directory.CreateTempSubdirectory("terrarium-framed-shared-").FullName;
        File.SetUnixFileMode(shared, (UnixFileMode)0b111_111_111);
        try
        {
            var planted = Path.Combine(shared, "planted.sock");
            using (var impostor = StartAsNobody(
                "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen()\nprint('ready',flush=True)\n" +
                "c,_=s.accept()\nc.settimeout(5)\ntry:\n  d=c.recv(65536)\nexcept Exception:\n  d=b'timeout'\nsys.stdout.write(repr(d))\nsys.stdout.flush()",
                planted))
            {
                Assert.Equal("ready", await impostor.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
                var refused = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => ConnectAsync(Endpoint.UnixSocket(planted)));
                Assert.Contains("runs as uid 65534", refused.Message, StringComparison.Ordinal);
                Assert.Equal("b''", (await impostor.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30))).Trim());
            }

            var ours = Listen(EchoAsync, endpoint: Endpoint.UnixSocket(Path.Combine(shared, "ours.sock")));
            File.SetUnixFileMode(ours.SocketPath!, (UnixFileMode)0b111_111_111);
            using var client = StartAsNobody(
                "import socket,sys\nc=socket.socket(socket.AF_UNIX)\nc.connect(sys.argv[1])\nc.settimeout(5)\n" +
                "try:\n  c.sendall(b'TRRM\\x01'+bytes(32))\n  d=repr(c.recv(65536))\nexcept (ConnectionResetError, BrokenPipeError):\n  d='reset'\nexcept socket.timeout:\n  d='timeout'\nsys.stdout.write(d)\nsys.stdout.flush()",
                ours.SocketPath!);
            // Closed at once, its hello unread (the kernel resets a connection closed with data unread,
            // or the client finds the pipe broken before it has written it).
            Assert.Contains((await client.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30))).Trim(), new[] { "b''", "reset" });
            Assert.Equal(0, Volatile.Read(ref _handled));
        }
        finally
        {
            Directory.Delete(shared, recursive: true);
        }
    }

    private static Process StartAsNobody(string script, string argument) => Process.Start(new ProcessStartInfo("setpriv")
    {
        ArgumentList = { "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script, argument },
        RedirectStandardOutput = true,
    })!;

    private Endpoint Echo() => Listen(EchoAsync);

    private async Task EchoAsync(FramedConnection connection, CancellationToken ct)
    {
        Interlocked.Increment(ref _handled);
        while (await connection.ReadAsync(ct) is { } frame)
        {
            await connection.SendAsync(frame.Type, frame.Payload.ToArray(), ct);
        }
    }

    private Endpoint Listen(Func<FramedConnection, CancellationToken, Task> handler, int maxFrameBytes = Limit, ClusterCredentials? credentials = null, Endpoint? endpoint = null)
    {
        var listener = FramedListener.Start(endpoint ?? Endpoint.UnixSocket(Path.Combine(_folder.FullName, $"{Guid.NewGuid():N}.sock")),
            credentials ?? ClusterCredentials.UnixOnly(Token), maxFrameBytes, async (connection, ct) =>
            {
                Interlocked.Increment(ref _handled);
                await handler(connection, ct);
            });
        _listeners.Add(listener);
        return listener.Endpoint;
    }

    private static Task<FramedConnection> ConnectAsync(Endpoint endpoint) =>
        FramedClient.ConnectAsync(endpoint, ClusterCredentials.UnixOnly(Token), Limit, CancellationToken.None);

    private static async Task<Socket> RawUnixAsync(Endpoint endpoint)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(endpoint.SocketPath!));
        return socket;
    }

    /// <summary>The server closed: an end of stream, or a reset when it closed with what was sent unread.</summary>
    private static async Task AssertClosedAsync(Socket socket)
    {
        try
        {
            Assert.Equal(0, await socket.ReceiveAsync(new byte[16]).WaitAsync(TimeSpan.FromSeconds(30)));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
    }

    private static byte[] Hello(byte version) => "TRRM"u8.ToArray().Append(version).Concat(RandomNumberGenerator.GetBytes(32)).ToArray();

    private static byte[] FrameBytes(byte type, string text)
    {
        var payload = Encoding.UTF8.GetBytes(text);
        var bytes = new byte[FramedConnection.HeaderBytes + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)payload.Length);
        bytes[4] = type;
        payload.CopyTo(bytes, FramedConnection.HeaderBytes);
        return bytes;
    }

    private static async Task<byte[]> ReceiveExactlyAsync(Socket socket, int count)
    {
        var buffer = new byte[count];
        for (var received = 0; received < count;)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(received)).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(read > 0, $"the server closed the connection after {received} of {count} bytes");
            received += read;
        }

        return buffer;
    }

    private static (int Type, string Text) Text(Frame? frame)
    {
        Assert.NotNull(frame);
        return (frame.Value.Type, Encoding.UTF8.GetString(frame.Value.Payload.ToArray()));
    }
}
