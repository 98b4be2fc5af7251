using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Tests.Protocol.Transport;

/// <summary>
/// A peer that opens connections and never makes them useful — nothing sent, half a TLS or HTTP/2
/// handshake — is cut off once the limits say so, instead of holding the server's memory for ever.
/// </summary>
public sealed class ConnectionLimitsTests
{
    private static readonly ConnectionLimits Short = new() { HandshakeTimeout = TimeSpan.FromSeconds(1), IdleTimeout = TimeSpan.FromSeconds(2) };

    [Theory]
    [InlineData("nothing")]
    [InlineData("half a TLS handshake")]
    [InlineData("TLS, then nothing")]
    [InlineData("TLS, then half the HTTP/2 preface")]
    public async Task TlsListener_ConnectionThatNeverBecomesUseful_IsClosedByTheServer(string what)
    {
        using var authority = ClusterCertificateAuthority.CreateEphemeral();
        var tls = ClusterTls.Trusting([authority.Certificate]).WithServerCertificate(authority.IssueWithNewKey("node", ["127.0.0.1"]));
        await using var server = await GrpcServer.StartAsync([Endpoint.Tcp("127.0.0.1", 0)], new ClusterCredentials("token", tls),
            NullLoggerFactory.Instance, _ => { }, _ => { }, Short, CancellationToken.None);
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", server.Endpoints[0].Port);
        Stream stream = client.GetStream();

        if (what == "half a TLS handshake")
        {
            await stream.WriteAsync(new byte[] { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01 });
        }
        else if (what != "nothing")
        {
            var secure = new SslStream(stream, leaveInnerStreamOpen: false, (_, _, _, _) => true);
            await secure.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "127.0.0.1",
                ApplicationProtocols = [SslApplicationProtocol.Http2],
            });
            stream = secure;
            if (what.Contains("preface", StringComparison.Ordinal))
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n"));
            }
        }

        Assert.True(await ClosedByServerAsync(stream), $"the server kept a connection that sent {what}");
    }

    [Fact]
    public async Task InsecureListener_ConnectionThatSendsHalfThePreface_IsClosedByTheServer()
    {
        await using var server = await GrpcServer.StartAsync([Endpoint.Tcp("127.0.0.1", 0)], new ClusterCredentials("token", ClusterTls.Insecure),
            NullLoggerFactory.Instance, _ => { }, _ => { }, Short, CancellationToken.None);
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", server.Endpoints[0].Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n"));

        Assert.True(await ClosedByServerAsync(stream), "the server kept a connection that sent half the HTTP/2 preface");
    }

    /// <summary>Reads until the server ends the connection (true), or 60 s pass (false): far beyond the limits.</summary>
    private static async Task<bool> ClosedByServerAsync(Stream stream)
    {
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var buffer = new byte[4096];
        try
        {
            while (await stream.ReadAsync(buffer, patience.Token) > 0)
            {
                // The server's settings frame or a GOAWAY: read on until it closes.
            }

            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }
}
