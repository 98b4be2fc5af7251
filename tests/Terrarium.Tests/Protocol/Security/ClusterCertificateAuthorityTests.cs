using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Terrarium.Protocol.Security;

namespace Terrarium.Tests.Protocol.Security;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ClusterCertificateAuthorityTests : IDisposable
{
    private readonly string _folder = Path.Combine(Directory.CreateTempSubdirectory("terrarium-ca-").FullName, "config");

    public void Dispose() => Directory.Delete(Path.GetDirectoryName(_folder)!, recursive: true);

    [Fact]
    public void LoadOrCreate_MakesTheCaOnce_OwnerOnly_AndLoadsTheSameOneAgain()
    {
        using var made = ClusterCertificateAuthority.LoadOrCreate(_folder);
        using var loaded = ClusterCertificateAuthority.LoadOrCreate(_folder);

        Assert.Equal(made.Hash, loaded.Hash);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_folder, "ca.key")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_folder));
        Assert.True(made.Certificate.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
    }

    [Fact]
    public void LoadOrCreate_KeyReadableByOthers_IsRefused()
    {
        using (ClusterCertificateAuthority.LoadOrCreate(_folder))
        {
        }

        File.SetUnixFileMode(Path.Combine(_folder, "ca.key"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

        var error = Assert.Throws<UnauthorizedAccessException>(() => ClusterCertificateAuthority.LoadOrCreate(_folder));
        Assert.Contains("mode 600", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Hash_IsSha256OfTheCasSubjectPublicKeyInfo_AsKubeadmPinsIt()
    {
        using var authority = ClusterCertificateAuthority.CreateEphemeral();

        var expected = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(authority.Certificate.PublicKey.ExportSubjectPublicKeyInfo()));

        Assert.Equal(expected, authority.Hash);
        Assert.Equal(expected, CaHash.Parse(expected.ToUpperInvariant().Replace("SHA256", "sha256", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("8e567ef4bee80c02d294b1d067cdbdf8bd1e84eecca92cdd5bee94708c559ebf")]
    [InlineData("sha1:8e567ef4bee80c02d294b1d067cdbdf8bd1e84ee")]
    [InlineData("sha256:8e567ef4")]
    public void CaHash_NotSha256AndSixtyFourHexDigits_IsRefused(string pin) =>
        Assert.Contains("is not 'sha256:' and 64 hex digits", Assert.Throws<FormatException>(() => CaHash.Parse(pin)).Message, StringComparison.Ordinal);

    [Fact]
    public void IssueForRequest_TakesOnlyTheKey_NeverTheExtensionsTheRequestAsksFor()
    {
        using var authority = ClusterCertificateAuthority.CreateEphemeral();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=I am a CA", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));

        using var issued = authority.IssueForRequest(request.CreateSigningRequestPem(), "node-1", ["10.0.0.5"]);

        Assert.Equal("CN=node-1", issued.Subject);
        Assert.False(issued.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        Assert.True(ClusterTls.Trusting([authority.Certificate]).IsTrusted(issued));
    }

    [Fact]
    public void IssueForRequest_NotSignedByItsOwnKey_IsRefused()
    {
        using var authority = ClusterCertificateAuthority.CreateEphemeral();

        var error = Assert.Throws<ArgumentException>(() => authority.IssueForRequest("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----", "node-1", []));

        Assert.Contains("not valid PKCS#10", error.Message, StringComparison.Ordinal);
    }
}
