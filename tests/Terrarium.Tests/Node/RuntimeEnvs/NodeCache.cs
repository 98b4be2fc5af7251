using Microsoft.Extensions.Logging.Abstractions;
using Terrarium.Node;
using Terrarium.Node.Membership;
using Terrarium.Node.Resources;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Protocol.Security;

namespace Terrarium.Tests.Node.RuntimeEnvs;

/// <summary>A node's cache in a folder of the test's own, with the package fetching its preparers use (file:// zips need no head).</summary>
internal sealed class NodeCache : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("terrarium-node-cache-");

    public NodeCache()
    {
        Options = new NodeOptions { CacheDirectory = Path.Combine(_root.FullName, "cache") };
        var head = new HeadLink(Options, ClusterCredentials.UnixOnly("token"), new ResourceLedger(new Dictionary<string, double> { ["CPU"] = 1 }), NullLogger<HeadLink>.Instance);
        Packages = new FetchedPackages(new PackageCache(Options, head, NullLogger<PackageCache>.Instance));
    }

    public NodeOptions Options { get; }

    public FetchedPackages Packages { get; }

    /// <summary>A scratch folder beside the cache, for the files a test ships.</summary>
    public string Scratch => Directory.CreateDirectory(Path.Combine(_root.FullName, "scratch")).FullName;

    public void Dispose() => _root.Delete(recursive: true);
}
