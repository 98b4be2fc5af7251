using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Terrarium.Protocol.Transport;

namespace Terrarium.Protocol.Security;

/// <summary>
/// How a process protects its TCP connections within a cluster: which servers it trusts as a
/// client, and the certificate it presents as a server. Unix sockets need none of it: they stay on
/// one machine, inside the user's private folder, and the kernel names the peer (SO_PEERCRED).
/// A client checks the server's certificate during the TLS handshake, before any request — and so
/// before the token — is sent: a fake server gets nothing.
/// </summary>
public sealed class ClusterTls
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    private ClusterTls(Mode mode, X509Certificate2Collection authorities, bool checkHostNames, X509Certificate2? serverCertificate)
    {
        TcpMode = mode;
        Authorities = authorities;
        CheckHostNames = checkHostNames;
        ServerCertificate = serverCertificate;
    }

    private enum Mode
    {
        UnixOnly,
        Insecure,
        Tls,
    }

    /// <summary>
    /// No TCP: every endpoint of the cluster is a Unix socket on this machine (an embedded cluster).
    /// A TCP address is refused, with what to give instead.
    /// </summary>
    public static ClusterTls UnixOnly { get; } = new(Mode.UnixOnly, [], false, null);

    /// <summary>Plain TCP: the token and all data cross the network in clear. Only behind an explicit <c>--insecure</c>.</summary>
    public static ClusterTls Insecure { get; } = new(Mode.Insecure, [], false, null);

    /// <summary>Whether TCP connections go without TLS.</summary>
    public bool IsInsecure => TcpMode == Mode.Insecure;

    /// <summary>Whether TCP connections use TLS (servers are checked against <see cref="Authorities"/>).</summary>
    public bool IsTls => TcpMode == Mode.Tls;

    /// <summary>The certificate authorities a server's certificate must chain to.</summary>
    public X509Certificate2Collection Authorities { get; }

    /// <summary>
    /// Whether a server's certificate must also name the host it was reached at. Off when every CA
    /// trusted is a cluster's own (<see cref="ClusterCertificateAuthority.IsClusterOwn"/>), which signs
    /// only for holders of the token; on for any other CA (an operator's), which may sign for other
    /// services of the organisation. Decided from the CAs themselves, never from what a server says.
    /// </summary>
    public bool CheckHostNames { get; }

    /// <summary>The certificate (with its key) this process serves TCP with; null when it serves none.</summary>
    public X509Certificate2? ServerCertificate { get; }

    private Mode TcpMode { get; }

    /// <summary>TLS, trusting servers whose certificate chains to one of <paramref name="authorities"/>.</summary>
    public static ClusterTls Trusting(X509Certificate2Collection authorities)
    {
        ArgumentNullException.ThrowIfNull(authorities);
        return authorities.Count == 0
            ? throw new ArgumentException("TLS needs at least one certificate authority to trust", nameof(authorities))
            : new ClusterTls(Mode.Tls, authorities, !authorities.All(ClusterCertificateAuthority.IsClusterOwn), null);
    }

    /// <summary>The same trust, serving TCP with <paramref name="certificate"/>.</summary>
    public ClusterTls WithServerCertificate(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        if (!IsTls)
        {
            throw new InvalidOperationException("a server certificate needs a TLS cluster");
        }

        return certificate.HasPrivateKey
            ? new ClusterTls(TcpMode, Authorities, CheckHostNames, certificate)
            : throw new ArgumentException("the server certificate has no private key", nameof(certificate));
    }

    /// <summary>The same trust, serving nothing: what a client of this process's cluster needs.</summary>
    public ClusterTls TrustOnly() => ServerCertificate is null ? this : new ClusterTls(TcpMode, Authorities, CheckHostNames, null);

    /// <summary>The URI a gRPC channel opens for a TCP endpoint: <c>https://</c> unless insecure.</summary>
    /// <exception cref="InvalidOperationException">This process has no way to trust a TCP server (<see cref="UnixOnly"/>).</exception>
    public string AddressOf(Endpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return TcpMode switch
        {
            Mode.Tls => $"https://{endpoint}",
            Mode.Insecure => $"http://{endpoint}",
            _ => throw new InvalidOperationException(
                $"{endpoint} is a TCP address, and this connection has no certificate authority to check it with: give the cluster's CA hash " +
                $"(ClusterOptions.CaHash, {CaHash.EnvironmentVariable} or --ca-hash, as terrarium start --head printed it), " +
                "or, for a cluster started with --insecure, ClusterOptions.Insecure (--insecure)"),
        };
    }

    /// <summary>Makes <paramref name="handler"/> check servers against this trust during the handshake.</summary>
    public void ConfigureClient(SocketsHttpHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        if (IsTls)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
                certificate is not null && IsTrusted(certificate as X509Certificate2 ?? new X509Certificate2(certificate), chain?.ChainPolicy.ExtraStore, errors);
        }
    }

    /// <summary>
    /// Whether <paramref name="certificate"/>, presented by a server, chains to one of
    /// <see cref="Authorities"/> and may serve TLS (and, with <see cref="CheckHostNames"/>, names
    /// the host: <paramref name="errors"/> says whether it does).
    /// </summary>
    public bool IsTrusted(X509Certificate2 certificate, X509Certificate2Collection? intermediates = null, SslPolicyErrors errors = SslPolicyErrors.None)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        if (!IsTls || (CheckHostNames && errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch)))
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(Authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ServerAuthentication);
        if (intermediates is not null)
        {
            chain.ChainPolicy.ExtraStore.AddRange(intermediates);
        }

        return chain.Build(certificate);
    }

    /// <summary>
    /// The trust as one line — never a key — for a worker the node starts (on its stdin, beside the
    /// token) and for the record of a daemon: their clients trust the same CAs. (An actor's server
    /// gets its node's certificate with the actor: <see cref="ExportPem"/>.)
    /// </summary>
    public string ToLine() => JsonSerializer.Serialize(new TrustLine
    {
        Mode = TcpMode.ToString(),
        Authorities = string.Concat(Authorities.Select(a => a.ExportCertificatePem() + "\n")),
    });

    /// <summary>A server certificate and its key, as PEM, to hand to a process of the node's that serves with it.</summary>
    public static (string Certificate, string Key) ExportPem(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var key = (AsymmetricAlgorithm?)certificate.GetECDsaPrivateKey() ?? certificate.GetRSAPrivateKey()
            ?? throw new ArgumentException("the certificate has no ECDSA or RSA private key", nameof(certificate));
        using (key)
        {
            return (certificate.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
        }
    }

    /// <summary>Reads what <see cref="ToLine"/> wrote.</summary>
    /// <exception cref="FormatException">The line is not one.</exception>
    public static ClusterTls FromLine(string line)
    {
        TrustLine? parsed;
        try
        {
            parsed = JsonSerializer.Deserialize<TrustLine>(line);
        }
        catch (JsonException e)
        {
            throw new FormatException($"the TLS settings line does not parse: {e.Message}", e);
        }

        switch (parsed?.Mode)
        {
            case nameof(Mode.UnixOnly):
                return UnixOnly;
            case nameof(Mode.Insecure):
                return Insecure;
            case nameof(Mode.Tls):
                var authorities = new X509Certificate2Collection();
                try
                {
                    authorities.ImportFromPem(parsed.Authorities ?? "");
                }
                catch (CryptographicException e)
                {
                    throw new FormatException($"the TLS settings line's authorities do not parse: {e.Message}", e);
                }

                return authorities.Count > 0 ? Trusting(authorities) : throw new FormatException("the TLS settings line names no authority");
            default:
                throw new FormatException($"the TLS settings line names no known mode ('{parsed?.Mode}')");
        }
    }

    private sealed class TrustLine
    {
        public string? Mode { get; init; }

        public string? Authorities { get; init; }
    }
}
