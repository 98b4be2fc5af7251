using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Terrarium.Protocol.Security;

namespace Terrarium.Protocol.Transport;

/// <summary>
/// Opens gRPC channels to Terrarium services, presenting the cluster token on every call: on a Unix
/// socket only to a process of this user, over TCP only to a server whose certificate the
/// credentials trust (checked in the TLS handshake, before the first request).
/// </summary>
public static class ClusterChannel
{
    /// <summary>Creates a channel to <paramref name="endpoint"/> and a call invoker that adds the token.</summary>
    /// <exception cref="InvalidOperationException">A TCP endpoint, and credentials that cannot check a TCP server.</exception>
    public static (GrpcChannel Channel, CallInvoker Invoker) Open(Endpoint endpoint, ClusterCredentials credentials)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            // Across machines a peer can vanish without a word; a ping that goes unanswered for a
            // minute ends the connection. A starved machine answers late, not never: be patient.
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(60),
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        string address;
        if (endpoint.SocketPath is { } socketPath)
        {
            // On one machine the kernel reports a dead peer at once (end of stream); pings could only
            // declare a live but CPU-starved peer dead.
            handler.KeepAlivePingDelay = Timeout.InfiniteTimeSpan;
            // The token goes with the first request: never to a socket served by another user, who
            // could have put it where a Terrarium socket was expected.
            handler.ConnectCallback = async (_, ct) =>
                await PeerCredentials.ConnectToThisUserAsync(socketPath, $"send the cluster token to '{socketPath}'", ct).ConfigureAwait(false);
            address = "http://localhost";
        }
        else
        {
            address = credentials.Tls.AddressOf(endpoint);
            credentials.Tls.ConfigureClient(handler);
        }

        var channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = handler,
            MaxReceiveMessageSize = MessageLimits.MaxMessageBytes,
            MaxSendMessageSize = MessageLimits.MaxMessageBytes,
        });
        var invoker = channel.Intercept(metadata =>
        {
            metadata.Add(ClusterToken.HeaderName, credentials.Token);
            return metadata;
        });
        return (channel, invoker);
    }
}
