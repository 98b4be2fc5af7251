using Terrarium.Protocol.Transport;

namespace Terrarium.Tests.Protocol.Transport;

public sealed class EndpointTests
{
    [Fact]
    public void Parse_HostAndPort() => Assert.Equal(("10.0.0.5", 6380), (Endpoint.Parse("10.0.0.5:6380").Host, Endpoint.Parse("10.0.0.5:6380").Port));

    [Fact]
    public void Parse_UnixSocket_KeepsThePath() => Assert.Equal("/tmp/x/node.sock", Endpoint.Parse("unix:/tmp/x/node.sock").SocketPath);

    [Fact]
    public void Parse_IPv6_RoundTrips() => Assert.Equal("[::1]:7000", Endpoint.Parse("[::1]:7000").ToString());

    [Theory]
    [InlineData("localhost")]
    [InlineData("host:0")]
    [InlineData("host:99999")]
    [InlineData(":80")]
    public void Parse_Malformed_ThrowsFormatExceptionNamingTheAddress(string address)
    {
        var error = Assert.Throws<FormatException>(() => Endpoint.Parse(address));

        Assert.Contains($"'{address}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_PortZeroToListenOn_Accepted() => Assert.Equal(0, Endpoint.Parse("127.0.0.1:0", anyPort: true).Port);
}
