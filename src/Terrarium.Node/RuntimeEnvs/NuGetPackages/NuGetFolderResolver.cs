using NuGet.Client;
using NuGet.Common;
using NuGet.Configuration;
using NuGet.ContentModel;
using NuGet.DependencyResolver;
using NuGet.Frameworks;
using NuGet.LibraryModel;
using NuGet.Protocol.Core.Types;
using NuGet.Versioning;
using Terrarium.Protocol;

namespace Terrarium.Node.RuntimeEnvs.NuGetPackages;

/// <summary>
/// Resolves a <c>nuget</c> spec in process, from the node's package folder alone, when the SDK's
/// restore would not ask a source either: every range in the graph is met by its inclusive lower bound
/// and that version is already extracted here. It walks the graph with NuGet's own resolver (nearest
/// wins, cousins take the highest) and selects assets with NuGet's own conventions for this framework
/// and runtime. Anything a restore would decide differently — a floating or open range, a missing
/// version, a downgrade, a conflict, a package the framework provides, a runtime.json, assets only an
/// older framework has — is reported instead, and the caller runs the restore.
/// </summary>
internal sealed class NuGetFolderResolver(string packagesFolder, NuGetFramework framework, string runtimeIdentifier, SdkRestoreFacts sdk)
{
    private readonly ManagedCodeConventions _conventions = new(sdk.RuntimeGraph);

    public async Task<FolderResolution> ResolveAsync(IReadOnlyList<(string Id, VersionRange Range)> packages, CancellationToken ct)
    {
        var folder = new NuGetFolderProvider(packagesFolder, framework);
        var references = packages
            .Select(p => new LibraryDependency(new LibraryRange(p.Id, p.Range, LibraryDependencyTarget.Package)))
            .ToList();
        using var cache = new SourceCacheContext();
        var context = new RemoteWalkContext(cache, PackageSourceMapping.GetPackageSourceMapping(NullSettings.Instance), NullLogger.Instance)
        {
            IsMsBuildBased = true,
        };
        context.LocalLibraryProviders.Add(folder);
        context.ProjectLibraryProviders.Add(new SpecProjectProvider(references));

        var graph = await new RemoteDependencyWalker(context)
            .WalkAsync(SpecProjectProvider.Root, framework, runtimeIdentifier, sdk.RuntimeGraph, recursive: true)
            .ConfigureAwait(false);
        ct.ThrowIfCancellationRequested();
        var analysis = graph.Analyze();
        if (analysis.Downgrades.Count > 0 || analysis.Cycles.Count > 0 || analysis.VersionConflicts.Count > 0)
        {
            return NeedsRestore("the graph has a downgrade, a cycle or a version conflict");
        }

        var chosen = new List<LibraryIdentity>();
        graph.ForEach(node =>
        {
            if (node.Item?.Key is not { } identity || identity.Type == LibraryType.Project)
            {
                return;
            }

            if (identity.Type != LibraryType.Package)
            {
                // Floating ranges never reach the folder: NuGet asks the sources first.
                folder.Reasons.Enqueue($"{node.Key} is not resolved from the node's package folder");
            }
            else if (node.Disposition == Disposition.Acceptable)
            {
                folder.Reasons.Enqueue($"{identity.Name} has conflicting versions");
            }
            else if (node.Disposition == Disposition.Accepted && !chosen.Contains(identity))
            {
                chosen.Add(identity);
            }
        });

        if (chosen.FirstOrDefault(p => sdk.FrameworkPackageIds.Contains(p.Name)) is { } provided)
        {
            return NeedsRestore($"{provided.Name} is also provided by the framework, which the SDK prunes");
        }

        if (!folder.Reasons.IsEmpty)
        {
            return NeedsRestore(string.Join("; ", folder.Reasons.Distinct()));
        }

        var resolved = new List<ResolvedNuGetPackage>();
        var assemblies = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var natives = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var package in chosen.OrderBy(p => p.Name, StringComparer.OrdinalIgnoreCase))
        {
            var installed = folder.InstalledFolder(package.Name, package.Version)!;
            if (folder.Nuspec(package.Name, package.Version).GetReferenceGroups().Any())
            {
                return NeedsRestore($"{package} filters its assemblies with <references>");
            }

            var assets = SelectAssets(installed);
            if (assets is null)
            {
                return NeedsRestore($"{package} has no assemblies for {framework.GetShortFolderName()}");
            }

            var entry = new ResolvedNuGetPackage { Id = package.Name, Version = package.Version.ToNormalizedString() };
            foreach (var path in assets.Value.Runtime)
            {
                assemblies[Path.GetFileNameWithoutExtension(path)] = Path.Combine(installed, path);
                entry.Assets.Add(path);
            }

            foreach (var path in assets.Value.Native)
            {
                natives[NuGetRestorer.NativeName(path)] = Path.Combine(installed, path);
                entry.Assets.Add(path);
            }

            resolved.Add(entry);
        }

        return new FolderResolution(new NuGetEnvironment(resolved, assemblies, natives), null);
    }

    /// <summary>
    /// The runtime and native files NuGet would pick for this framework and runtime (as in its
    /// <c>LockFileUtils</c>), or null when the package has assemblies but none of them fit.
    /// </summary>
    private (IReadOnlyList<string> Runtime, IReadOnlyList<string> Native)? SelectAssets(string installed)
    {
        var files = Directory.EnumerateFiles(installed, "*", SearchOption.AllDirectories)
            .Select(file => Path.GetRelativePath(installed, file).Replace('\\', '/'))
            .ToList();
        var items = new ContentItemCollection();
        items.Load(files);
        var criteria = _conventions.Criteria.ForFrameworkAndRuntime(framework, runtimeIdentifier);
        var runtime = Paths(items.FindBestItemGroup(criteria, _conventions.Patterns.RuntimeAssemblies));
        var compile = Paths(items.FindBestItemGroup(criteria, _conventions.Patterns.CompileRefAssemblies, _conventions.Patterns.CompileLibAssemblies));
        var resources = Paths(items.FindBestItemGroup(criteria, _conventions.Patterns.ResourceAssemblies));
        var native = Paths(items.FindBestItemGroup(criteria, _conventions.Patterns.NativeLibraries));

        // NuGet's compatibility rule (NU1202): a package with any lib/ or ref/ file must have assets here.
        var hasAssemblies = files.Any(f => f.StartsWith("lib/", StringComparison.OrdinalIgnoreCase) || f.StartsWith("ref/", StringComparison.OrdinalIgnoreCase));
        if (hasAssemblies && runtime.Count == 0 && compile.Count == 0 && resources.Count == 0)
        {
            return null;
        }

        return (runtime.Where(IsFile).ToList(), native.Where(IsFile).ToList());
    }

    private static List<string> Paths(ContentItemGroup? group) => group?.Items.Select(item => item.Path).ToList() ?? [];

    /// <summary>NuGet's "_._" marks an empty folder: nothing to load.</summary>
    private static bool IsFile(string path) => !path.EndsWith("/_._", StringComparison.Ordinal);

    private static FolderResolution NeedsRestore(string reason) => new(null, reason);
}
