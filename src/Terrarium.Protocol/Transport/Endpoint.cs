using System.Globalization;
using System.Net;

namespace Terrarium.Protocol.Transport;

/// <summary>
/// Where a Terrarium service listens: a Unix domain socket (<c>unix:/path</c>) on one machine, or
/// <c>host:port</c> over TCP.
/// </summary>
public sealed record Endpoint
{
    private Endpoint(string? socketPath, string? host, int port)
    {
        SocketPath = socketPath;
        Host = host;
        Port = port;
    }

    /// <summary>The socket path, for a Unix domain socket endpoint.</summary>
    public string? SocketPath { get; }

    /// <summary>The host name or address, for a TCP endpoint.</summary>
    public string? Host { get; }

    /// <summary>The TCP port (0 until bound when an ephemeral port was asked for).</summary>
    public int Port { get; }

    /// <summary>An endpoint on a Unix domain socket.</summary>
    public static Endpoint UnixSocket(string path) => new(Path.GetFullPath(path), null, 0);

    /// <summary>A TCP endpoint.</summary>
    public static Endpoint Tcp(string host, int port) => new(null, host, port);

    /// <summary>Parses <c>unix:/path</c> or <c>host:port</c>.</summary>
    /// <param name="address">The text to parse.</param>
    /// <param name="anyPort">Accept port 0 (a port of the listener's choosing), for an address to listen on.</param>
    /// <exception cref="FormatException">The text is neither form.</exception>
    public static Endpoint Parse(string address, bool anyPort = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        if (address.StartsWith("unix:", StringComparison.Ordinal))
        {
            return UnixSocket(address["unix:".Length..]);
        }

        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            || port > 65535 || (port == 0 && !anyPort))
        {
            throw new FormatException($"address '{address}' is not 'host:port' (port {(anyPort ? 0 : 1)}-65535) or 'unix:/path/to.sock'");
        }

        return Tcp(address[..colon].Trim('[', ']'), port);
    }

    /// <summary>This endpoint with its bound TCP port.</summary>
    public Endpoint WithPort(int port) => new(SocketPath, Host, port);

    /// <summary>Whether the TCP host is a loopback address or name.</summary>
    public bool IsLoopback => SocketPath is not null || Host is "localhost" ||
        (IPAddress.TryParse(Host, out var ip) && IPAddress.IsLoopback(ip));

    /// <inheritdoc />
    public override string ToString() => SocketPath is not null
        ? "unix:" + SocketPath
        : Host!.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
