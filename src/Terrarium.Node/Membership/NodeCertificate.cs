using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Terrarium.Protocol;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Node.Membership;

/// <summary>
/// A node's credentials: the token, and for a TLS cluster the certificate its TCP endpoint (and its
/// actors' workers) serve with. A node given none asks the head, which signs a new key of the
/// node's with the cluster's CA; the key never leaves the node.
/// </summary>
internal static class NodeCertificate
{
    public static async Task<ClusterCredentials> CredentialsAsync(NodeOptions options, CancellationToken ct)
    {
        var tls = options.Tls;
        var tcp = options.Endpoints.Where(e => e.SocketPath is null).ToList();
        if (!tls.IsTls || tls.ServerCertificate is not null || tcp.Count == 0)
        {
            return new ClusterCredentials(options.Token, tls);
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + options.NodeId, key, HashAlgorithmName.SHA256);
        var hosts = tcp.Select(e => e.Host!).Append(options.AdvertisedHost).OfType<string>().Distinct().ToList();
        var (channel, invoker) = ClusterChannel.Open(options.Head!, new ClusterCredentials(options.Token, tls));
        using (channel)
        {
            var reply = await new Protocol.Head.HeadClient(invoker).IssueNodeCertificateAsync(new IssueNodeCertificateRequest
            {
                NodeId = options.NodeId,
                SigningRequestPem = request.CreateSigningRequestPem(),
                Hosts = { hosts },
            }, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: ct).ConfigureAwait(false);
            using var issued = X509Certificate2.CreateFromPem(reply.CertificatePem);
            var certificate = issued.CopyWithPrivateKey(key);
            return tls.IsTrusted(certificate)
                ? new ClusterCredentials(options.Token, tls.WithServerCertificate(certificate))
                : throw new InvalidOperationException($"the head at {options.Head} issued a certificate that does not chain to the cluster's CA");
        }
    }
}
