using System.Net;
using Terrarium.Head.State;

namespace Terrarium.Tests.Head.State;

public sealed class RedisAddressTests
{
    [Fact]
    public void Url_WithAPasswordOnly_LogsInAsTheDefaultUser()
    {
        var options = RedisAddress.Parse("redis://:s3cret@10.0.0.5:6390");

        Assert.Null(options.User);
        Assert.Equal("s3cret", options.Password);
        Assert.Equal("10.0.0.5:6390", HostAndPort(options.EndPoints.Single()));
        Assert.False(options.Ssl);
    }

    [Fact]
    public void Url_WithAnAclUserTlsAndADatabase_KeepsEachPart()
    {
        var options = RedisAddress.Parse("rediss://terrarium:p%40ss@redis.internal/3");

        Assert.Equal("terrarium", options.User);
        Assert.Equal("p@ss", options.Password);
        Assert.True(options.Ssl);
        Assert.Equal(3, options.DefaultDatabase);
        Assert.Equal("redis.internal:6379", HostAndPort(options.EndPoints.Single()));
    }

    [Fact]
    public void ConfigurationString_IsStillAccepted()
    {
        var options = RedisAddress.Parse("127.0.0.1:6379,password=s3cret");

        Assert.Equal("s3cret", options.Password);
    }

    [Theory]
    [InlineData("redis://:s3cret@host:1", "redis://:***@host:1")]
    [InlineData("redis://me:s3cret@host:1", "redis://me:***@host:1")]
    [InlineData("host:1,password=s3cret", "host:1,password=***")]
    public void Describe_NeverShowsThePassword(string address, string described) => Assert.Equal(described, RedisAddress.Describe(address));

    [Fact]
    public void Url_WithANonNumericDatabase_IsRefusedWithoutThePassword()
    {
        var error = Assert.Throws<ArgumentException>(() => RedisAddress.Parse("redis://:s3cret@host:1/zero"));

        Assert.Contains("the database 'zero' is not a number", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", error.Message, StringComparison.Ordinal);
    }

    private static string HostAndPort(EndPoint endpoint) => endpoint switch
    {
        IPEndPoint ip => $"{ip.Address}:{ip.Port}",
        DnsEndPoint dns => $"{dns.Host}:{dns.Port}",
        _ => endpoint.ToString()!,
    };
}
