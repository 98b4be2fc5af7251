using System.Security.Authentication;
using Grpc.Core;

namespace Terrarium.Protocol.Security;

/// <summary>Says what a failed TLS handshake most likely means, for the error a user reads.</summary>
public static class TlsFailure
{
    /// <summary>A hint to append to <paramref name="error"/>'s message when TLS failed; empty otherwise.</summary>
    public static string Hint(RpcException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        for (Exception? e = error.Status.DebugException; e is not null; e = e.InnerException)
        {
            if (e is AuthenticationException)
            {
                return " (the TLS handshake failed: the server's certificate is not signed by the cluster's CA — check the address and the CA hash — " +
                    "or the server runs without TLS, started with --insecure)";
            }
        }

        return "";
    }
}
