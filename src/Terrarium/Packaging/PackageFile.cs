namespace Terrarium.Packaging;

/// <summary>A packaged archive on the driver's disk: its content URI's hash, location and size.</summary>
internal sealed record PackageFile(string Hash, string Path, long Size)
{
    public string Uri => PackageUri.Scheme + Hash;
}

internal static class PackageUri
{
    public const string Scheme = "pkg://";
}
