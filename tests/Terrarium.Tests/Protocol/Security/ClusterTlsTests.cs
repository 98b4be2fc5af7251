using Microsoft.Extensions.Logging.Abstractions;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Tests.Protocol.Security;

public sealed class ClusterTlsTests
{
    [Fact]
    public void IsTrusted_CertificateOfTheCa_Yes_OfAnotherCa_No()
    {
        using var cluster = ClusterCertificateAuthority.CreateEphemeral();
        using var other = ClusterCertificateAuthority.CreateEphemeral();
        var tls = ClusterTls.Trusting([cluster.Certificate]);

        Assert.True(tls.IsTrusted(cluster.IssueWithNewKey("node", ["127.0.0.1"])));
        Assert.False(tls.IsTrusted(other.IssueWithNewKey("node", ["127.0.0.1"])));
        Assert.False(tls.IsTrusted(other.Certificate));
    }

    [Fact]
    public void ToLine_CarriesTheTrust_NeverTheServersKey()
    {
        using var authority = ClusterCertificateAuthority.CreateEphemeral();
        var tls = ClusterTls.Trusting([authority.Certificate]).WithServerCertificate(authority.IssueWithNewKey("node", []));
        var (_, key) = ClusterTls.ExportPem(tls.ServerCertificate!);

        var line = tls.ToLine();
        var read = ClusterTls.FromLine(line);

        Assert.True(read.IsTls);
        Assert.Equal(authority.Certificate.Thumbprint, Assert.Single(read.Authorities).Thumbprint);
        Assert.Null(read.ServerCertificate);
        Assert.DoesNotContain("PRIVATE KEY", line, StringComparison.Ordinal);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", key, StringComparison.Ordinal);
        Assert.True(ClusterTls.FromLine(ClusterTls.Insecure.ToLine()).IsInsecure);
        Assert.Throws<FormatException>(() => ClusterTls.FromLine("{\"Mode\":\"Plain\"}"));
    }

    [Fact]
    public void CheckHostNames_IsDecidedByTheCaTrusted_OffForAClustersOwn_OnForAnyOther()
    {
        using var own = ClusterCertificateAuthority.CreateEphemeral();
        using var key = System.Security.Cryptography.ECDsa.Create();
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=Example Corp Issuing CA", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension(true, false, 0, true));
        using var corporate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));

        Assert.False(ClusterTls.Trusting([own.Certificate]).CheckHostNames);
        Assert.True(ClusterTls.Trusting([corporate]).CheckHostNames);
        Assert.True(ClusterTls.Trusting([own.Certificate, corporate]).CheckHostNames);
    }

    [Fact]
    public void AddressOf_TcpWithoutAnyTrust_IsRefusedSayingWhatToGive()
    {
        var error = Assert.Throws<InvalidOperationException>(() => ClusterTls.UnixOnly.AddressOf(Endpoint.Tcp("10.0.0.5", 6380)));

        Assert.Contains("ClusterOptions.CaHash", error.Message, StringComparison.Ordinal);
        Assert.Equal("https://10.0.0.5:6380", ClusterTls.Trusting([ClusterCertificateAuthority.CreateEphemeral().Certificate]).AddressOf(Endpoint.Tcp("10.0.0.5", 6380)));
        Assert.Equal("http://10.0.0.5:6380", ClusterTls.Insecure.AddressOf(Endpoint.Tcp("10.0.0.5", 6380)));
    }

    [Fact]
    public async Task GrpcServer_TcpWithNeitherACertificateNorInsecure_IsRefusedBeforeItListens()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => GrpcServer.StartAsync(
            [Endpoint.Tcp("127.0.0.1", 0)], ClusterCredentials.UnixOnly("token"), NullLoggerFactory.Instance, _ => { }, _ => { }, ct: CancellationToken.None));

        Assert.Contains("needs a TLS certificate", error.Message, StringComparison.Ordinal);
    }
}
