using System.Xml.Linq;
using NuGet.RuntimeModel;
using NuGet.Versioning;

namespace Terrarium.Node.RuntimeEnvs.NuGetPackages;

/// <summary>
/// What the .NET SDK feeds into a restore besides the project: its runtime identifier graph, and the
/// package ids the targeting pack provides (the SDK prunes those from a graph). Read from the SDK the
/// node's <c>dotnet</c> would restore with, so that resolving in process sees what the restore sees.
/// </summary>
internal sealed record SdkRestoreFacts(RuntimeGraph RuntimeGraph, IReadOnlySet<string> FrameworkPackageIds)
{
    /// <summary>The facts of the newest SDK beside <paramref name="dotnetPath"/>, or null when a file is missing.</summary>
    public static SdkRestoreFacts? Find(string dotnetPath, int runtimeMajorVersion)
    {
        var root = Path.GetDirectoryName(ResolveLinks(dotnetPath));
        if (root is null)
        {
            return null;
        }

        var graphFile = Newest(Path.Combine(root, "sdk"), _ => true) is { } sdk ? Path.Combine(sdk, "PortableRuntimeIdentifierGraph.json") : null;
        var targetingPack = Newest(Path.Combine(root, "packs", "Microsoft.NETCore.App.Ref"), version => version.Major == runtimeMajorVersion);
        if (graphFile is null || !File.Exists(graphFile) || targetingPack is null)
        {
            return null;
        }

        var overrides = Path.Combine(targetingPack, "data", "PackageOverrides.txt");
        var frameworkList = Path.Combine(targetingPack, "data", "FrameworkList.xml");
        if (!File.Exists(overrides) || !File.Exists(frameworkList))
        {
            return null;
        }

        // Every package the pack overrides, and every assembly it carries, counts: which of them the SDK
        // prunes for a given version is its business, and any of them sends the spec to a real restore.
        var ids = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        ids.UnionWith(File.ReadLines(overrides).Select(line => line.Split('|')[0].Trim()).Where(id => id.Length > 0));
        ids.UnionWith(XDocument.Load(frameworkList).Descendants("File")
            .Select(file => (string?)file.Attribute("AssemblyName"))
            .OfType<string>());
        return new SdkRestoreFacts(JsonRuntimeFormat.ReadRuntimeGraph(graphFile), ids);
    }

    private static string ResolveLinks(string path) =>
        File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? Path.GetFullPath(path);

    private static string? Newest(string folder, Func<NuGetVersion, bool> wanted) =>
        !Directory.Exists(folder) ? null : Directory.EnumerateDirectories(folder)
            .Select(path => (Path: path, Version: NuGetVersion.TryParse(Path.GetFileName(path), out var version) ? version : null))
            .Where(entry => entry.Version is not null && wanted(entry.Version))
            .OrderByDescending(entry => entry.Version)
            .Select(entry => entry.Path)
            .FirstOrDefault();
}
