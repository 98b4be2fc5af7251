using System.Diagnostics;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Terrarium.Protocol;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Benchmarks;

/// <summary>
/// One hop of a large object with nothing of Terrarium's around it: the node-to-node transfer's own
/// code (a Kestrel gRPC server streaming <see cref="ObjectChunks"/> pieces over loopback TCP with
/// TLS, as between nodes, a Grpc.Net.Client receiver filling one buffer), in this process. It is the ceiling of any hop while
/// every process crossing is gRPC, and tells the transport's cost from the cluster's.
/// </summary>
internal static class GrpcStreamProbe
{
    private const string Token = "grpc-stream-probe";

    /// <param name="mebibytes">The object's size.</param>
    /// <param name="tls">With TLS, as between a cluster's nodes; without, as <c>--insecure</c> (TLS's own cost, in the same run).</param>
    public static async Task<TimeSpan> CopyAsync(int mebibytes, bool tls = true)
    {
        var value = UnsafeByteOperations.UnsafeWrap(new byte[mebibytes << 20]);
        using var authority = ClusterCertificateAuthority.CreateEphemeral();
        var trust = tls ? ClusterTls.Trusting([authority.Certificate]) : ClusterTls.Insecure;
        await using var server = await GrpcServer.StartAsync(
            [Endpoint.Tcp("127.0.0.1", 0)], new ClusterCredentials(Token, tls ? trust.WithServerCertificate(authority.IssueWithNewKey("probe", ["127.0.0.1"])) : trust),
            NullLoggerFactory.Instance,
            services => services.AddSingleton(new ObjectServer(value)),
            app => app.MapGrpcService<ObjectServer>(), ct: CancellationToken.None);
        var (channel, invoker) = ClusterChannel.Open(server.Endpoints[0], new ClusterCredentials(Token, trust));
        using (channel)
        {
            var client = new Protocol.Node.NodeClient(invoker);
            var watch = Stopwatch.StartNew();
            using var call = client.FetchObject(new FetchObjectRequest { ObjectId = "probe" });
            var received = await ObjectChunks.ReadAsync(call.ResponseStream, CancellationToken.None);
            return received.Length == value.Length ? watch.Elapsed : throw new InvalidOperationException("the stream lost bytes");
        }
    }

    /// <summary>Serves one value, as a node serves an object it holds.</summary>
    private sealed class ObjectServer(ByteString value) : Protocol.Node.NodeBase
    {
        public override Task FetchObject(FetchObjectRequest request, IServerStreamWriter<ObjectChunk> responseStream, ServerCallContext context) =>
            ObjectChunks.WriteAsync(value, responseStream, context.CancellationToken);
    }
}
