namespace Terrarium.Node.RuntimeEnvs;

/// <summary>Packages that fields name by URI (<c>pkg://</c>, <c>https://</c>, <c>file://</c>), unpacked in the node's cache.</summary>
internal sealed class FetchedPackages(PackageCache cache)
{
    /// <summary>The unpacked directory of <paramref name="uri"/>; a fetch that fails is a setup failure of <paramref name="field"/>.</summary>
    public async Task<string> DirectoryAsync(string field, string uri, CancellationToken ct)
    {
        try
        {
            return await cache.GetDirectoryAsync(uri, ct).ConfigureAwait(false);
        }
        catch (PackageFetchException e)
        {
            throw new RuntimeEnvSetupFailure(field, e.Message, e.ToString());
        }
    }
}
