using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Protocol.Framing;

/// <summary>
/// Opens framed connections: on a Unix socket only to a process of this user; over TCP only to a
/// server whose certificate the credentials trust (TLS, checked before a byte of the handshake),
/// or in clear when the cluster runs with <c>--insecure</c>. Then the handshake; the token never
/// crosses the wire.
/// </summary>
public static class FramedClient
{
    /// <summary>How long the connection and handshake may take before the attempt is given up.</summary>
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    /// <exception cref="FrameHandshakeException">The server is not this cluster's, or refused this client.</exception>
    /// <exception cref="UnauthorizedAccessException">A Unix socket served by another user.</exception>
    /// <exception cref="System.Security.Authentication.AuthenticationException">A TCP server whose certificate is not trusted.</exception>
    /// <exception cref="SocketException">Nothing listens there.</exception>
    /// <exception cref="TimeoutException">The connection and handshake took longer than <see cref="HandshakeTimeout"/>.</exception>
    public static async Task<FramedConnection> ConnectAsync(Endpoint endpoint, ClusterCredentials credentials, int maxFrameBytes, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(credentials);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(HandshakeTimeout);
        try
        {
            var stream = await OpenAsync(endpoint, credentials.Tls, timeout.Token).ConfigureAwait(false);
            try
            {
                await FrameHandshake.AsClientAsync(stream, FrameHandshake.KeyOf(credentials.Token), timeout.Token).ConfigureAwait(false);
                return new FramedConnection(stream, maxFrameBytes);
            }
            catch
            {
                await stream.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // Packets dropped on the way (a firewall): say so, as an endpoint that cannot be reached.
            throw new TimeoutException($"no framed connection to {endpoint} within {HandshakeTimeout.TotalSeconds:0} s");
        }
    }

    /// <summary>
    /// Connects to the first of <paramref name="endpoints"/> (best first) that can be reached: a
    /// Unix socket this process cannot reach (another mount namespace, another user's) sends it to
    /// the next. The last one's failure is thrown.
    /// </summary>
    public static async Task<FramedConnection> ConnectToFirstAsync(IReadOnlyList<Endpoint> endpoints, ClusterCredentials credentials, int maxFrameBytes, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentOutOfRangeException.ThrowIfZero(endpoints.Count);
        for (var i = 0; ; i++)
        {
            try
            {
                return await ConnectAsync(endpoints[i], credentials, maxFrameBytes, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (i < endpoints.Count - 1 && IsUnreachable(e))
            {
                // On to the next address.
            }
        }
    }

    /// <summary>Whether <paramref name="e"/>, thrown by <see cref="ConnectAsync"/>, says the endpoint cannot be reached (as opposed to a failure after).</summary>
    public static bool IsUnreachable(Exception e) =>
        e is SocketException or TimeoutException or UnauthorizedAccessException or FrameHandshakeException or System.Security.Authentication.AuthenticationException;

    private static async Task<Stream> OpenAsync(Endpoint endpoint, ClusterTls tls, CancellationToken ct)
    {
        if (endpoint.SocketPath is { } path)
        {
            return await PeerCredentials.ConnectToThisUserAsync(path, $"open a framed connection to '{path}'", ct).ConfigureAwait(false);
        }

        // Refuses a TCP endpoint when nothing says how to trust it.
        _ = tls.AddressOf(endpoint);
        var tcp = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp) { DualMode = true, NoDelay = true };
        try
        {
            // A peer whose machine vanishes mid-read is noticed, as the server notices its clients.
            new ConnectionLimits().ApplyTo(tcp);
            await tcp.ConnectAsync(endpoint.Host!, endpoint.Port, ct).ConfigureAwait(false);
            var network = new NetworkStream(tcp, ownsSocket: true);
            if (tls.IsInsecure)
            {
                return network;
            }

            var secure = new SslStream(network, leaveInnerStreamOpen: false);
            try
            {
                await secure.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = endpoint.Host,
                    RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
                        certificate is not null && tls.IsTrusted(certificate as X509Certificate2 ?? new X509Certificate2(certificate), chain?.ChainPolicy.ExtraStore, errors),
                }, ct).ConfigureAwait(false);
                return secure;
            }
            catch
            {
                await secure.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }
}
