using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Terrarium.Protocol.Hosting;

/// <summary>
/// How long a connection to a Terrarium server may do nothing useful, and how many there may be:
/// a peer that opens connections and sends nothing (or half a handshake) must not hold the server's
/// memory for ever. Live connections are unaffected: a session or worker stream always has a call
/// open, and keep-alive pings find peers that vanished.
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

    /// <summary>A ping is sent on a connection silent this long; unanswered for as long again, the connection ends. Default: 30 seconds.</summary>
    public TimeSpan KeepAlivePing { get; init; } = TimeSpan.FromSeconds(30);

    internal void Apply(KestrelServerLimits limits)
    {
        limits.MaxConcurrentConnections = MaxConnections;
        limits.KeepAliveTimeout = IdleTimeout;
        limits.RequestHeadersTimeout = IdleTimeout;
        limits.Http2.KeepAlivePingDelay = KeepAlivePing;
        limits.Http2.KeepAlivePingTimeout = KeepAlivePing * 2;
    }
}
