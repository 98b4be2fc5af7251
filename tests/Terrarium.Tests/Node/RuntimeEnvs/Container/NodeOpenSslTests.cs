namespace Terrarium.Tests.Node.RuntimeEnvs.Container;

public sealed class NodeOpenSslTests
{
    [Theory]
    [InlineData("/usr/lib/x86_64-linux-gnu/libssl.so.3", "libssl.so.3")]
    [InlineData("/usr/lib64/libssl.so.3.1.1", "libssl.so.3")]
    [InlineData("/usr/lib64/libcrypto.so.3.0.7", "libcrypto.so.3")]
    public void Soname_IsTheNameTheLoaderAsksFor(string file, string soname) =>
        Assert.Equal(soname, Terrarium.Node.RuntimeEnvs.Container.NodeOpenSsl.Soname(file));
}
