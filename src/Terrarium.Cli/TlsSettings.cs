using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Terrarium.Protocol.LocalFiles;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Cli;

/// <summary>
/// How <c>terrarium start</c> secures TCP, as it was told: the cluster's own CA (the default: a head
/// makes it, a node pins it with <c>--ca-hash</c> and gets its certificate from the head), an
/// operator's PKI (<c>--tls-cert</c>, <c>--tls-key</c>, <c>--tls-ca</c>), or none (<c>--insecure</c>).
/// </summary>
internal sealed record TlsSettings
{
    public string? CaHash { get; init; }

    public bool Insecure { get; init; }

    public string? CertificateFile { get; init; }

    public string? KeyFile { get; init; }

    public string? AuthoritiesFile { get; init; }

    private bool OperatorPki => CertificateFile is not null;

    public static TlsSettings Parse(bool head, string? caHash, bool insecure, string? certificate, string? key, string? authorities)
    {
        var pki = new[] { certificate, key, authorities };
        if (pki.Any(p => p is not null) && pki.Any(p => p is null))
        {
            throw new UserError("--tls-cert, --tls-key and --tls-ca go together: this daemon's certificate, its key, and the CA that signed the cluster's certificates");
        }

        if (insecure && (caHash is not null || certificate is not null))
        {
            throw new UserError("--insecure turns TLS off: give it without --ca-hash or --tls-cert");
        }

        if (head && caHash is not null)
        {
            throw new UserError("--ca-hash pins the CA of the cluster a node joins; a head makes its own (or uses --tls-ca)");
        }

        foreach (var (option, path) in new[] { ("--tls-cert", certificate), ("--tls-key", key), ("--tls-ca", authorities) })
        {
            if (path is not null && !File.Exists(path))
            {
                throw new UserError($"{option} '{path}' does not exist (resolved to {Path.GetFullPath(path)})");
            }
        }

        if (caHash is not null)
        {
            try
            {
                caHash = Protocol.Security.CaHash.Parse(caHash);
            }
            catch (FormatException e)
            {
                throw new UserError($"--ca-hash: {e.Message}");
            }
        }

        return new TlsSettings
        {
            CaHash = caHash,
            Insecure = insecure,
            CertificateFile = certificate is null ? null : Path.GetFullPath(certificate),
            KeyFile = key is null ? null : Path.GetFullPath(key),
            AuthoritiesFile = authorities is null ? null : Path.GetFullPath(authorities),
        };
    }

    /// <summary>
    /// A head's TLS: with the cluster's own CA (made on first start in the user's config folder),
    /// the head's certificate, freshly signed, and the CA that signs joining nodes' certificates.
    /// </summary>
    public (ClusterTls Tls, ClusterCertificateAuthority? Authority) ForHead(IEnumerable<string> hosts)
    {
        if (Insecure)
        {
            return (ClusterTls.Insecure, null);
        }

        if (OperatorPki)
        {
            return (FromOperatorPki(), null);
        }

        ClusterCertificateAuthority authority;
        try
        {
            authority = ClusterCertificateAuthority.LoadOrCreate(UserFolders.Config());
        }
        catch (InvalidDataException e)
        {
            throw new UserError(e.Message);
        }

        var tls = ClusterTls.Trusting([authority.Certificate]).WithServerCertificate(authority.IssueWithNewKey("head", hosts));
        return (tls, authority);
    }

    /// <summary>
    /// A joining node's TLS, before it has a certificate (its node asks the head for one): the pinned
    /// CA, learned from the head, or what this machine knows of that head.
    /// </summary>
    public async Task<ClusterTls> ForNodeAsync(Endpoint head, CancellationToken ct)
    {
        if (OperatorPki)
        {
            return FromOperatorPki();
        }

        try
        {
            return await ClusterTrust.ResolveAsync(head, CaHash, Insecure, ct).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            throw new UserError(e.Message.Replace("ClusterOptions.CaHash, ", "", StringComparison.Ordinal)
                .Replace("ClusterOptions.Insecure (", "(", StringComparison.Ordinal));
        }
        catch (Grpc.Core.RpcException e)
        {
            throw new UserError($"cannot reach the head at {head} to learn its CA: {e.Status.Detail}{TlsFailure.Hint(e)}");
        }
        catch (System.Security.Authentication.AuthenticationException e)
        {
            throw new UserError(e.Message);
        }
    }

    /// <summary>How a node joins, for the head's summary: the options after <c>--token</c>.</summary>
    public static string JoinOptions(ClusterTls tls) =>
        tls.IsInsecure ? "--insecure"
        : tls.CheckHostNames ? "--tls-cert <its certificate> --tls-key <its key> --tls-ca <your CA>"
        : "--ca-hash " + Protocol.Security.CaHash.Of(tls.Authorities[0]);

    private ClusterTls FromOperatorPki()
    {
        try
        {
            var authorities = new X509Certificate2Collection();
            authorities.ImportFromPemFile(AuthoritiesFile!);
            var certificate = X509Certificate2.CreateFromPemFile(CertificateFile!, KeyFile);
            var tls = ClusterTls.Trusting(authorities).WithServerCertificate(certificate);
            return tls.IsTrusted(certificate)
                ? tls
                : throw new UserError($"--tls-cert '{CertificateFile}' is not signed by a CA in --tls-ca '{AuthoritiesFile}', or it may not serve TLS (extended key usage serverAuth)");
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new UserError($"--tls-cert, --tls-key or --tls-ca cannot be read as PEM: {e.Message}");
        }
    }
}
