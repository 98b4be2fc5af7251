using System.Net.Sockets;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;

namespace Terrarium.Protocol.Hosting;

/// <summary>Opens gRPC channels to Terrarium services, presenting the cluster token on every call.</summary>
public static class ClusterChannel
{
    /// <summary>Creates a channel to <paramref name="endpoint"/> and a call invoker that adds the token.</summary>
    public static (GrpcChannel Channel, CallInvoker Invoker) Open(Endpoint endpoint, string token)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        string address;
        if (endpoint.SocketPath is { } socketPath)
        {
            handler.ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
            address = "http://localhost";
        }
        else
        {
            address = $"http://{endpoint}";
        }

        var channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = handler,
            MaxReceiveMessageSize = null,
            MaxSendMessageSize = null,
        });
        var invoker = channel.Intercept(metadata =>
        {
            metadata.Add(ClusterToken.HeaderName, token);
            return metadata;
        });
        return (channel, invoker);
    }
}
