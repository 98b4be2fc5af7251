using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Terrarium.Protocol.Transport;

/// <summary>
/// How long a connection to a Terrarium server may do nothing useful, and how many there may be:
/// a peer that opens connections and sends nothing (or half a handshake) must not hold the server's
/// memory for ever. Live connections are unaffected: a session or worker stream always has a call
/// open. A TCP peer that vanished (its machine, its network) is found by TCP keep-alive probes, which
/// the kernel answers: never HTTP/2 pings, which a peer whose threads are all busy answers late, and
/// which on a Unix socket could only take a CPU-starved worker for a dead one.
/// </summary>
public sealed record ConnectionLimits
{
    /// <summary>The most connections one server holds at once; more wait in the listen backlog. Default: 10,000.</summary>
    public int MaxConnections { get; init; } = 10_000;

    /// <summary>A TLS handshake not done in this time ends the connection. Default: 10 seconds.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A connection with no call open for this long is closed (a client opens a new one when it
    /// next calls); so is one that has not sent its HTTP/2 preface and first request headers by
    /// then. Default: 60 seconds.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// A TCP connection silent this long gets a keep-alive probe; after six unanswered probes, ten
    /// seconds apart, the kernel ends it. Default: 30 seconds.
    /// </summary>
    public TimeSpan TcpKeepAlive { get; init; } = TimeSpan.FromSeconds(30);

    internal void Apply(KestrelServerLimits limits)
    {
        limits.MaxConcurrentConnections = MaxConnections;
        limits.KeepAliveTimeout = IdleTimeout;
        limits.RequestHeadersTimeout = IdleTimeout;
    }

    /// <summary>Turns on TCP keep-alive probes for an accepted TCP connection.</summary>
    internal void ApplyTo(System.Net.Sockets.Socket socket)
    {
        socket.SetSocketOption(System.Net.Sockets.SocketOptionLevel.Socket, System.Net.Sockets.SocketOptionName.KeepAlive, true);
        socket.SetSocketOption(System.Net.Sockets.SocketOptionLevel.Tcp, System.Net.Sockets.SocketOptionName.TcpKeepAliveTime, (int)TcpKeepAlive.TotalSeconds);
        socket.SetSocketOption(System.Net.Sockets.SocketOptionLevel.Tcp, System.Net.Sockets.SocketOptionName.TcpKeepAliveInterval, 10);
        socket.SetSocketOption(System.Net.Sockets.SocketOptionLevel.Tcp, System.Net.Sockets.SocketOptionName.TcpKeepAliveRetryCount, 6);
    }
}
