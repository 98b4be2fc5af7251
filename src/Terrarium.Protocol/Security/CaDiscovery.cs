using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using Terrarium.Protocol.Transport;

namespace Terrarium.Protocol.Security;

/// <summary>
/// Learns a cluster's certificate authority from its head, given only the CA's pin (<see cref="CaHash"/>),
/// as <c>kubeadm join</c> learns the Kubernetes CA: the head's answer is taken only if the CA it sends
/// has the pinned hash and the certificate the head presented in the same handshake chains to it.
/// No token is sent on this connection.
/// </summary>
public static class CaDiscovery
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>TLS settings that trust the pinned CA of the cluster whose head is at <paramref name="head"/>.</summary>
    /// <exception cref="AuthenticationException">The head is not the pinned cluster's.</exception>
    /// <exception cref="RpcException">The head cannot be reached over TLS.</exception>
    public static async Task<ClusterTls> FetchAsync(Endpoint head, string caHash, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(head);
        var pin = CaHash.Parse(caHash);
        X509Certificate2? presented = null;
        var intermediates = new X509Certificate2Collection();
        var nameMismatch = false;
        var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
        {
            // Accepted for now, checked below once the CA is known: only this one call travels on it.
            presented = certificate is null ? null : certificate as X509Certificate2 ?? new X509Certificate2(certificate);
            intermediates.AddRange(chain?.ChainPolicy.ExtraStore ?? []);
            nameMismatch = errors.HasFlag(System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch);
            return certificate is not null;
        };
        using var channel = GrpcChannel.ForAddress($"https://{head}", new GrpcChannelOptions { HttpHandler = handler });
        var reply = await new Protocol.Head.HeadClient(channel)
            .GetClusterCaAsync(new GetClusterCaRequest(), deadline: DateTime.UtcNow + Deadline, cancellationToken: ct).ConfigureAwait(false);

        var offered = new X509Certificate2Collection();
        offered.ImportFromPem(reply.AuthoritiesPem);
        var pinned = offered.FirstOrDefault(a => CaHash.Of(a) == pin)
            ?? throw new AuthenticationException(
                $"the server at {head} is not the cluster pinned by {pin}: its CA has hash {(offered.Count > 0 ? CaHash.Of(offered[0]) : "(none)")}. " +
                "Check the address and the CA hash that terrarium start --head printed");
        // Whether names are checked is the pinned CA's to say (see ClusterTls.CheckHostNames), never the server's.
        var tls = ClusterTls.Trusting([pinned]);
        if (presented is null || !tls.IsTrusted(presented, intermediates, nameMismatch ? System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch : default))
        {
            throw new AuthenticationException(
                $"the server at {head} sent the pinned cluster's CA but its own certificate ({presented?.Subject ?? "none"}) is not signed by it{(tls.CheckHostNames ? " for that host name" : "")}: it is not that cluster's head");
        }

        return tls;
    }
}
