using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Protocol.Framing;

/// <summary>
/// Serves framed connections on a plain socket, where no HTTP server is needed (an actor's worker):
/// a Unix socket accepts processes of this user only; TCP serves TLS with the credentials'
/// certificate, or clear text when the cluster runs with <c>--insecure</c>. A connection whose
/// handshake fails is refused and closed before anything else is read from it; the handler gets
/// only proven peers.
/// </summary>
public sealed class FramedListener : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly ClusterCredentials _credentials;
    private readonly byte[] _key;
    private readonly int _maxFrameBytes;
    private readonly Func<FramedConnection, CancellationToken, Task> _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly ConnectionLimits _limits;
    private int _open;

    private FramedListener(Socket socket, Endpoint endpoint, ClusterCredentials credentials, int maxFrameBytes, ConnectionLimits limits,
        Func<FramedConnection, CancellationToken, Task> handler)
    {
        _socket = socket;
        Endpoint = endpoint;
        _credentials = credentials;
        _key = FrameHandshake.KeyOf(credentials.Token);
        _maxFrameBytes = maxFrameBytes;
        _limits = limits;
        _handler = handler;
        _accepting = AcceptLoopAsync();
    }

    /// <summary>Where it listens (a TCP endpoint with the port it was given, if asked for port 0).</summary>
    public Endpoint Endpoint { get; }

    /// <summary>
    /// Listens on <paramref name="endpoint"/> and runs <paramref name="handler"/> for each proven
    /// connection, until disposed. The handler owns the connection.
    /// </summary>
    /// <exception cref="InvalidOperationException">TCP with neither a certificate nor <c>--insecure</c>.</exception>
    public static FramedListener Start(Endpoint endpoint, ClusterCredentials credentials, int maxFrameBytes,
        Func<FramedConnection, CancellationToken, Task> handler, ConnectionLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(credentials);
        ArgumentNullException.ThrowIfNull(handler);
        if (endpoint.SocketPath is { } path)
        {
            var unix = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            unix.Bind(new UnixDomainSocketEndPoint(path));
            if (!OperatingSystem.IsWindows())
            {
                // Its folder is private already; the socket is too, whatever the umask.
                File.SetUnixFileMode(path, LocalFiles.PrivateDirectory.OwnerReadWrite);
            }

            unix.Listen(512);
            return new FramedListener(unix, endpoint, credentials, maxFrameBytes, limits ?? new ConnectionLimits(), handler);
        }

        if (credentials.Tls.ServerCertificate is null && !credentials.Tls.IsInsecure)
        {
            throw new InvalidOperationException($"a framed listener on TCP ({endpoint}) needs a certificate to serve TLS with, or a cluster started with --insecure");
        }

        var tcp = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp) { DualMode = true, NoDelay = true };
        var address = endpoint.Host is "0.0.0.0" or "::" or "*" ? IPAddress.IPv6Any
            : IPAddress.TryParse(endpoint.Host, out var parsed) ? parsed
            : Dns.GetHostAddresses(endpoint.Host!)[0];
        tcp.Bind(new IPEndPoint(address.AddressFamily == AddressFamily.InterNetwork ? address.MapToIPv6() : address, endpoint.Port));
        tcp.Listen(512);
        var bound = Endpoint.Tcp(endpoint.Host!, ((IPEndPoint)tcp.LocalEndPoint!).Port);
        return new FramedListener(tcp, bound, credentials, maxFrameBytes, limits ?? new ConnectionLimits(), handler);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        try
        {
            await _accepting.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }

        // Its folder may be gone already (a session folder removed first).
        if (Endpoint.SocketPath is { } path && File.Exists(path))
        {
            File.Delete(path);
        }

        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket accepted;
            try
            {
                accepted = await _socket.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException && _stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                // Out of file descriptors, say: the connections served so far go on, and so does
                // listening once there is room again.
                await Task.Delay(100).ConfigureAwait(false);
                continue;
            }

            if (Interlocked.Increment(ref _open) > _limits.MaxConnections)
            {
                Interlocked.Decrement(ref _open);
                accepted.Dispose();
                continue;
            }

            _ = ServeAsync(accepted);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        FramedConnection? connection = null;
        try
        {
            using (var handshake = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
            {
                handshake.CancelAfter(_limits.HandshakeTimeout);
                var stream = await OpenAsync(socket, handshake.Token).ConfigureAwait(false);
                if (stream is null || !await FrameHandshake.AsServerAsync(stream, _key, handshake.Token).ConfigureAwait(false))
                {
                    if (stream is not null)
                    {
                        await stream.DisposeAsync().ConfigureAwait(false);
                    }

                    return;
                }

                connection = new FramedConnection(stream, _maxFrameBytes);
            }

            await _handler(connection, _stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or UnauthorizedAccessException or
            System.Security.Authentication.AuthenticationException or InvalidDataException or ObjectDisposedException)
        {
            // One peer's failure ends its connection only.
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            socket.Dispose();
            Interlocked.Decrement(ref _open);
        }
    }

    /// <summary>The accepted connection as a stream to handshake on, or null for a peer refused outright.</summary>
    private async Task<Stream?> OpenAsync(Socket socket, CancellationToken ct)
    {
        if (Endpoint.SocketPath is not null)
        {
            // Another user's process gets no answer at all, not even the server's proof.
            return PeerCredentials.UidOf(socket) is { } uid && uid != LocalFiles.PrivateDirectory.CurrentUserId
                ? null
                : new NetworkStream(socket, ownsSocket: false);
        }

        _limits.ApplyTo(socket);
        var network = new NetworkStream(socket, ownsSocket: false);
        if (_credentials.Tls.IsInsecure)
        {
            return network;
        }

        var secure = new SslStream(network, leaveInnerStreamOpen: false);
        await secure.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _credentials.Tls.ServerCertificate }, ct).ConfigureAwait(false);
        return secure;
    }
}
