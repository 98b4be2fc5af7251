using System.Collections.Concurrent;
using NuGet.Common;
using NuGet.Configuration;
using NuGet.DependencyResolver;
using NuGet.Frameworks;
using NuGet.LibraryModel;
using NuGet.Packaging;
using NuGet.Packaging.Core;
using NuGet.Protocol;
using NuGet.Protocol.Core.Types;
using NuGet.RuntimeModel;
using NuGet.Versioning;

namespace Terrarium.Node.RuntimeEnvs.NuGetPackages;

/// <summary>
/// The node's package folder as NuGet's dependency walker sees a local source. A range is found only
/// at its inclusive lower bound: that is the one case in which NuGet's restore takes a package from
/// the global packages folder without asking any source (<c>ResolverUtility.FindPackageLibraryMatchAsync</c>),
/// so a graph found here is the graph the restore would find. Whatever else a real restore would have
/// to decide is written to <see cref="Reasons"/>, and the caller restores instead.
/// </summary>
internal sealed class NuGetFolderProvider(string packagesFolder, NuGetFramework framework) : IRemoteDependencyProvider
{
    private const LibraryIncludeFlags RuntimeAndNative = LibraryIncludeFlags.Runtime | LibraryIncludeFlags.Native;
    private readonly VersionFolderPathResolver _paths = new(packagesFolder);

    /// <summary>Why this graph needs a real restore; empty when it does not.</summary>
    public ConcurrentQueue<string> Reasons { get; } = new();

    public bool IsHttp => false;

    public PackageSource Source => SourceRepository.PackageSource;

    public SourceRepository SourceRepository { get; } = Repository.Factory.GetCoreV3(new PackageSource(packagesFolder, "terrarium-node-packages"));

    /// <summary>The folder a package was extracted to, once its extraction finished.</summary>
    public string? InstalledFolder(string id, NuGetVersion version) =>
        File.Exists(_paths.GetNupkgMetadataPath(id, version)) ? _paths.GetInstallPath(id, version) : null;

    /// <summary>The package's manifest, as extracted.</summary>
    public NuspecReader Nuspec(string id, NuGetVersion version) => new(_paths.GetManifestFilePath(id, version));

    public Task<LibraryIdentity?> FindLibraryAsync(LibraryRange libraryRange, NuGetFramework targetFramework,
        SourceCacheContext cacheContext, ILogger logger, CancellationToken cancellationToken)
    {
        var range = libraryRange.VersionRange;
        if (range is null || range.IsFloating || !range.HasLowerBound || !range.IsMinInclusive)
        {
            Reasons.Enqueue($"{libraryRange} is not pinned by an inclusive lower bound, so NuGet asks its sources");
            return Task.FromResult<LibraryIdentity?>(null);
        }

        if (InstalledFolder(libraryRange.Name, range.MinVersion!) is null)
        {
            Reasons.Enqueue($"{libraryRange.Name} {range.MinVersion} is not in the node's package folder");
            return Task.FromResult<LibraryIdentity?>(null);
        }

        // The nuspec's casing of the id, as the restore records it.
        var id = Nuspec(libraryRange.Name, range.MinVersion!).GetId();
        return Task.FromResult<LibraryIdentity?>(new LibraryIdentity(id, range.MinVersion, LibraryType.Package));
    }

    public Task<LibraryDependencyInfo> GetDependenciesAsync(LibraryIdentity libraryIdentity, NuGetFramework targetFramework,
        SourceCacheContext cacheContext, ILogger logger, CancellationToken cancellationToken)
    {
        var nuspec = Nuspec(libraryIdentity.Name, libraryIdentity.Version);
        var folder = _paths.GetInstallPath(libraryIdentity.Name, libraryIdentity.Version);
        if (File.Exists(Path.Combine(folder, RuntimeGraph.RuntimeGraphFileName)))
        {
            Reasons.Enqueue($"{libraryIdentity} has a runtime.json, which adds dependencies per runtime");
        }

        if (nuspec.GetPackageTypes().Any(type => type != PackageType.Dependency))
        {
            Reasons.Enqueue($"{libraryIdentity} is not a plain dependency package");
        }

        var groups = nuspec.GetDependencyGroups().ToList();
        var nearest = NuGetFrameworkUtility.GetNearest(groups, framework, group => group.TargetFramework);
        if (groups.Count > 0 && nearest is null)
        {
            Reasons.Enqueue($"{libraryIdentity} has no dependency group for {framework.GetShortFolderName()}");
        }

        var dependencies = (nearest?.Packages ?? []).Select(package => ToLibraryDependency(libraryIdentity, package)).ToList();
        return Task.FromResult(LibraryDependencyInfo.Create(libraryIdentity, framework, dependencies));
    }

    private LibraryDependency ToLibraryDependency(LibraryIdentity parent, PackageDependency package)
    {
        var included = package.Include.Count == 0 ? LibraryIncludeFlags.All : LibraryIncludeFlagUtils.GetFlags(package.Include);
        var excluded = LibraryIncludeFlagUtils.GetFlags(package.Exclude);
        if ((included & ~excluded & RuntimeAndNative) != RuntimeAndNative)
        {
            Reasons.Enqueue($"{parent} leaves out runtime or native assets of {package.Id}");
        }

        return new LibraryDependency(new LibraryRange(package.Id, package.VersionRange, LibraryDependencyTarget.Package))
        {
            IncludeType = included & ~excluded,
        };
    }

    public Task<IPackageDownloader> GetPackageDownloaderAsync(PackageIdentity packageIdentity, SourceCacheContext cacheContext,
        ILogger logger, CancellationToken cancellationToken) =>
        throw new NotSupportedException("the node's package folder is read in place; nothing is downloaded from it");

    public Task<IEnumerable<NuGetVersion>?> GetAllVersionsAsync(string id, SourceCacheContext cacheContext, ILogger logger,
        CancellationToken token) => Task.FromResult<IEnumerable<NuGetVersion>?>([]);
}
