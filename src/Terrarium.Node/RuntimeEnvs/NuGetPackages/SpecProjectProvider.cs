using NuGet.DependencyResolver;
using NuGet.Frameworks;
using NuGet.LibraryModel;
using NuGet.Versioning;

namespace Terrarium.Node.RuntimeEnvs.NuGetPackages;

/// <summary>
/// The root of the walk: a project whose package references are the env's <c>nuget</c> packages, as
/// the generated <c>restore.csproj</c> declares them for a real restore.
/// </summary>
internal sealed class SpecProjectProvider(IReadOnlyList<LibraryDependency> references) : IDependencyProvider
{
    public const string ProjectName = "terrarium-nuget-env";

    /// <summary>The range the walk starts from.</summary>
    public static LibraryRange Root { get; } = new(ProjectName, VersionRange.Parse("1.0.0"), LibraryDependencyTarget.Project);

    public bool SupportsType(LibraryDependencyTarget libraryTypeFlag) => (libraryTypeFlag & LibraryDependencyTarget.Project) != 0;

    public Library? GetLibrary(LibraryRange libraryRange, NuGetFramework targetFramework) =>
        string.Equals(libraryRange.Name, ProjectName, StringComparison.OrdinalIgnoreCase)
            ? new Library(libraryRange, new LibraryIdentity(ProjectName, NuGetVersion.Parse("1.0.0"), LibraryType.Project), references) { Resolved = true }
            : null;

    public Library? GetLibrary(LibraryRange libraryRange, NuGetFramework targetFramework, string? alias) => GetLibrary(libraryRange, targetFramework);
}
