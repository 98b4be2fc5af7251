using System.Net.Sockets;
using Terrarium.Protocol.LocalFiles;

namespace Terrarium.Protocol.Transport;

/// <summary>
/// Who is at the other end of a Unix socket, as the kernel says (SO_PEERCRED): a cluster's
/// processes on one machine talk only to processes of their own user.
/// </summary>
public static class PeerCredentials
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    /// <summary>The uid of the process at the other end of <paramref name="socket"/>; null off Linux.</summary>
    public static uint? UidOf(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
        Span<byte> credentials = stackalloc byte[12];
        var length = socket.GetRawSocketOption(SolSocket, SoPeerCred, credentials);
        return length == credentials.Length ? BitConverter.ToUInt32(credentials[4..8]) : uint.MaxValue;
    }

    /// <summary>Connects to the Unix socket at <paramref name="path"/>, refusing it when another user serves it.</summary>
    /// <param name="path">The socket.</param>
    /// <param name="what">What the refusal protects, for its message.</param>
    /// <param name="ct">Cancels the connection.</param>
    /// <exception cref="UnauthorizedAccessException">The process serving it runs as another user.</exception>
    public static async Task<NetworkStream> ConnectToThisUserAsync(string path, string what, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct).ConfigureAwait(false);
            RequireThisUser(socket, what);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Refuses a peer that runs as another user.</summary>
    /// <param name="socket">A connected Unix socket.</param>
    /// <param name="what">What the refusal protects, for its message ("send the cluster token to '/path'").</param>
    /// <exception cref="UnauthorizedAccessException">The peer runs as another user.</exception>
    public static void RequireThisUser(Socket socket, string what)
    {
        if (UidOf(socket) is { } uid && uid != PrivateDirectory.CurrentUserId)
        {
            throw new UnauthorizedAccessException(
                $"refusing to {what}: the process at the other end runs as uid {uid}, not as this user (uid {PrivateDirectory.CurrentUserId})");
        }
    }
}
