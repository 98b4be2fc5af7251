using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Mono.Unix.Native;
using Terrarium.Protocol;
using Terrarium.Protocol.LocalFiles;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;
using NodeClient = Terrarium.Protocol.Node.NodeClient;

namespace Terrarium.Tests.Protocol.Transport;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
[Collection(ProcessUmask.Name)]
public sealed class TokenSafetyTests : IDisposable
{
    private const string Token = "the-cluster-token-of-this-test";
    private readonly string _scratch = PrivateDirectory.Create(Directory.CreateTempSubdirectory("terrarium-token-").FullName);

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public async Task RequestWithoutToken_IsRefusedBeforeItsBodyIsRead_WithoutDetails()
    {
        var socket = Path.Combine(_scratch, "s.sock");
        await using var server = await GrpcServer.StartAsync([Endpoint.UnixSocket(socket)], ClusterCredentials.UnixOnly(Token), NullLoggerFactory.Instance, _ => { }, _ => { }, ct: CancellationToken.None);
        using var client = Http2Client(socket);
        // The body sends 1 MiB and then waits for the answer: a server that read bodies before
        // checking the token would never answer, and this test would time out.
        var answered = new TaskCompletionSource();
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://localhost/terrarium.Node/AttachWorker")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new EndlessBody(answered.Task),
        };
        request.Content.Headers.ContentType = new("application/grpc");

        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).WaitAsync(TimeSpan.FromSeconds(30));
        answered.SetResult();

        Assert.Equal(((int)StatusCode.Unauthenticated).ToString(System.Globalization.CultureInfo.InvariantCulture), Header(response, "grpc-status"));
        Assert.Equal("missing or wrong cluster token: pass the token of the cluster this address belongs to", Header(response, "grpc-message"));
    }

    [Fact]
    public async Task GrpcCallWithWrongToken_IsRefusedAsUnauthenticated()
    {
        var socket = Path.Combine(_scratch, "s.sock");
        await using var server = await GrpcServer.StartAsync([Endpoint.UnixSocket(socket)], ClusterCredentials.UnixOnly(Token), NullLoggerFactory.Instance, _ => { }, _ => { }, ct: CancellationToken.None);
        var (channel, invoker) = ClusterChannel.Open(Endpoint.UnixSocket(socket), ClusterCredentials.UnixOnly("a-wrong-token-of-some-length"));
        using var _ = channel;

        var error = await Assert.ThrowsAsync<RpcException>(async () => await new NodeClient(invoker).GetStatusAsync(new GetStatusRequest()));

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    [Fact]
    public async Task UnixSocket_IsReadableAndWritableByItsOwnerOnly()
    {
        var socket = Path.Combine(_scratch, "s.sock");
        var umask = Syscall.umask(FilePermissions.S_IWOTH);
        try
        {
            await using var server = await GrpcServer.StartAsync([Endpoint.UnixSocket(socket)], ClusterCredentials.UnixOnly(Token), NullLoggerFactory.Instance, _ => { }, _ => { }, ct: CancellationToken.None);

            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(socket));
        }
        finally
        {
            Syscall.umask(umask);
        }
    }

    [SkippableFact]
    public async Task ClusterChannel_SocketServedByAnotherUser_NeverReceivesTheToken()
    {
        Requirements.Root();
        // Another local user's process, listening where a Terrarium socket was expected.
        var shared = Directory.CreateTempSubdirectory("terrarium-planted-").FullName;
        File.SetUnixFileMode(shared, (UnixFileMode)0b111_111_111);
        var socket = Path.Combine(shared, "node.sock");
        using var impostor = Process.Start(new ProcessStartInfo("setpriv")
        {
            ArgumentList =
            {
                "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
                "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen()\nprint('ready',flush=True)\n" +
                "c,_=s.accept()\nsys.stdout.write(repr(c.recv(65536)))\nsys.stdout.flush()",
                socket,
            },
            RedirectStandardOutput = true,
        })!;
        try
        {
            Assert.Equal("ready", await impostor.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
            var (channel, invoker) = ClusterChannel.Open(Endpoint.UnixSocket(socket), ClusterCredentials.UnixOnly(Token));
            using var _ = channel;

            var error = await Assert.ThrowsAsync<RpcException>(async () => await new NodeClient(invoker).GetStatusAsync(new GetStatusRequest()));

            Assert.Contains("refusing to send the cluster token", error.ToString(), StringComparison.Ordinal);
            Assert.Contains("runs as uid 65534", error.ToString(), StringComparison.Ordinal);
            await impostor.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.DoesNotContain(Token, await impostor.StandardOutput.ReadToEndAsync(), StringComparison.Ordinal);
        }
        finally
        {
            impostor.Kill();
            Directory.Delete(shared, recursive: true);
        }
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.Single() : null;

    private static HttpClient Http2Client(string socket) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (_, ct) =>
        {
            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), ct);
            return new NetworkStream(s, ownsSocket: true);
        },
    });

    /// <summary>A request body that sends 1 MiB and then nothing more until the test has its answer.</summary>
    private sealed class EndlessBody(Task answered) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(new byte[1 << 20]);
            await stream.FlushAsync();
            await answered;
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
