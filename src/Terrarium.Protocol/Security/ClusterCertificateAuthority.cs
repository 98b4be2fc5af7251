using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Mono.Unix;
using Terrarium.Protocol.LocalFiles;

namespace Terrarium.Protocol.Security;

/// <summary>
/// A cluster's own certificate authority: made by <c>terrarium start --head</c> on its first start
/// and kept beside the token (<c>ca.pem</c>, <c>ca.key</c>, both 0600 in a 0700 folder). It signs
/// the head's certificate and the certificate of every node that joins with the token, so that
/// clients can check a server before they send it the token. It signs for nobody else.
/// </summary>
public sealed class ClusterCertificateAuthority : IDisposable
{
    private const string CertificateFile = "ca.pem";
    private const string KeyFile = "ca.key";
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");
    private readonly X509Certificate2 _certificate;
    private readonly TimeProvider _time;

    private ClusterCertificateAuthority(X509Certificate2 certificate, TimeProvider time)
    {
        _certificate = certificate;
        _time = time;
    }

    /// <summary>The start of the subject of a CA dedicated to one cluster, as <c>terrarium start</c> makes it (or an operator does, to the same end).</summary>
    public const string OwnSubjectPrefix = "CN=Terrarium cluster CA";

    /// <summary>
    /// Whether <paramref name="authority"/> is a cluster's own CA — one that signs for the holders
    /// of that cluster's token alone — by its subject: clients then check a server's CA, not its name.
    /// </summary>
    public static bool IsClusterOwn(X509Certificate2 authority) =>
        authority?.Subject.StartsWith(OwnSubjectPrefix, StringComparison.Ordinal) == true;

    /// <summary>The CA's certificate (public): what clients trust.</summary>
    public X509Certificate2 Certificate => _certificate;

    /// <summary>The pin of this CA, for join lines: <c>sha256:…</c>.</summary>
    public string Hash => CaHash.Of(_certificate);

    /// <summary>
    /// The CA kept in <paramref name="folder"/>, made there (a private folder, 0700) if it has none.
    /// An existing key file must be this user's alone, and nobody else may have been able to put it
    /// there (it may be a link, as in a mounted Kubernetes Secret).
    /// </summary>
    /// <exception cref="UnauthorizedAccessException">The folder or the key file is open to other users.</exception>
    /// <exception cref="InvalidDataException">The files are there but are not a CA and its key.</exception>
    public static ClusterCertificateAuthority LoadOrCreate(string folder, TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        folder = Path.GetFullPath(folder);
        var certificatePath = Path.Combine(folder, CertificateFile);
        var keyPath = Path.Combine(folder, KeyFile);
        if (File.Exists(keyPath) != File.Exists(certificatePath))
        {
            throw new InvalidDataException(
                $"the cluster CA in {folder} is incomplete ({(File.Exists(keyPath) ? CertificateFile : KeyFile)} is missing): remove {CertificateFile} and {KeyFile} to make a new one (nodes must then join again with the new --ca-hash)");
        }

        if (!File.Exists(keyPath))
        {
            PrivateDirectory.Create(folder);
            Create(certificatePath, keyPath, time);
        }

        CheckKeyFileIsPrivate(keyPath);
        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        }
        catch (Exception e) when (e is CryptographicException or IOException or ArgumentException)
        {
            throw new InvalidDataException($"the cluster CA in {folder} cannot be read ({e.Message}): remove {CertificateFile} and {KeyFile} to make a new one (nodes must then join again with the new --ca-hash)", e);
        }

        if (certificate.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault() is not { CertificateAuthority: true })
        {
            throw new InvalidDataException($"{certificatePath} is not a certificate authority's certificate");
        }

        return new ClusterCertificateAuthority(certificate, time);
    }

    /// <summary>A CA held in memory only (tests, and heads given no folder).</summary>
    public static ClusterCertificateAuthority CreateEphemeral(TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        // A self-signed certificate carries its key already.
        return new ClusterCertificateAuthority(NewAuthority(key, time), time);
    }

    /// <summary>A certificate for a server of this process (the head), with a new key.</summary>
    /// <param name="subject">Who it is, for logs: <c>head</c>, a node's id.</param>
    /// <param name="hosts">Addresses and names it is reached at (informative: clients of the cluster's own CA check the CA, not names).</param>
    public X509Certificate2 IssueWithNewKey(string subject, IEnumerable<string> hosts)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = Issue(new CertificateRequest("CN=key", key, HashAlgorithmName.SHA256).PublicKey, subject, hosts);
        return certificate.CopyWithPrivateKey(key);
    }

    /// <summary>
    /// Signs a node's certificate signing request (PEM, PKCS#10). Only its key is taken, once its
    /// signature proves the requester holds it; the name and extensions are this CA's choice.
    /// </summary>
    /// <exception cref="ArgumentException">The request is not a valid, self-signed PKCS#10 request.</exception>
    public X509Certificate2 IssueForRequest(string requestPem, string subject, IEnumerable<string> hosts)
    {
        CertificateRequest request;
        try
        {
            request = CertificateRequest.LoadSigningRequestPem(requestPem, HashAlgorithmName.SHA256);
        }
        catch (CryptographicException e)
        {
            throw new ArgumentException($"the certificate signing request is not valid PKCS#10 signed by its own key: {e.Message}", nameof(requestPem), e);
        }

        return Issue(request.PublicKey, subject, hosts);
    }

    /// <inheritdoc />
    public void Dispose() => _certificate.Dispose();

    private X509Certificate2 Issue(PublicKey key, string subject, IEnumerable<string> hosts)
    {
        var name = new X500DistinguishedNameBuilder();
        name.AddCommonName(subject);
        var request = new CertificateRequest(name.Build(), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ServerAuthentication], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_certificate, true, false));
        var names = new SubjectAlternativeNameBuilder();
        var any = false;
        foreach (var host in hosts.Where(h => !string.IsNullOrWhiteSpace(h)).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (IPAddress.TryParse(host, out var ip))
            {
                names.AddIpAddress(ip);
            }
            else
            {
                names.AddDnsName(host);
            }

            any = true;
        }

        if (any)
        {
            request.CertificateExtensions.Add(names.Build());
        }

        // A node's certificate lives as long as the CA: revoking means a new CA and a new token.
        // A few minutes back for clocks that differ, never before the CA itself.
        var notBefore = new[] { _time.GetUtcNow().AddMinutes(-5), new DateTimeOffset(_certificate.NotBefore.ToUniversalTime()) }.Max();
        return request.Create(_certificate, notBefore, _certificate.NotAfter.ToUniversalTime(), NewSerialNumber());
    }

    private static void Create(string certificatePath, string keyPath, TimeProvider time)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = NewAuthority(key, time);
        WritePrivate(keyPath, key.ExportPkcs8PrivateKeyPem());
        WritePrivate(certificatePath, certificate.ExportCertificatePem());
    }

    private static X509Certificate2 NewAuthority(ECDsa key, TimeProvider time)
    {
        var id = Convert.ToHexString(RandomNumberGenerator.GetBytes(4)).ToLowerInvariant();
        var request = new CertificateRequest($"{OwnSubjectPrefix} {id}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = time.GetUtcNow();
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(10));
    }

    private static void WritePrivate(string path, string content)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = PrivateDirectory.OwnerReadWrite;
        }

        using var writer = new StreamWriter(new FileStream(path, options));
        writer.Write(content);
    }

    private static void CheckKeyFileIsPrivate(string keyPath)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var entry = UnixFileSystemInfo.GetFileSystemEntry(TrustedPath.RealPath(keyPath));
        var others = FileAccessPermissions.GroupReadWriteExecute | FileAccessPermissions.OtherReadWriteExecute;
        if (!entry.IsRegularFile || entry.OwnerUserId != PrivateDirectory.CurrentUserId || (entry.FileAccessPermissions & others) != 0)
        {
            throw new UnauthorizedAccessException(
                $"refusing to use the cluster CA key '{keyPath}': it must be a regular file of this user's that no one else may read (mode 600 or 400)");
        }

        if (TrustedPath.Problem(keyPath) is { } problem)
        {
            throw new UnauthorizedAccessException($"refusing to use the cluster CA key '{keyPath}': {problem}, so someone else could have put it there");
        }
    }

    private static byte[] NewSerialNumber()
    {
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        return serial;
    }
}
