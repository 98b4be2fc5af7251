using System.Collections;
using System.Runtime.CompilerServices;

namespace Terrarium;

/// <summary>
/// NuGet packages restored on the node (<c>nuget</c> in JSON): <c>Id@VersionRange</c> strings, plus
/// extra package sources. Assignable from a collection expression of package strings.
/// </summary>
[CollectionBuilder(typeof(NuGetSpec), nameof(Create))]
public sealed record NuGetSpec : IEnumerable<string>
{
    /// <summary>Packages as <c>Id@VersionRange</c> (<c>Serilog@[3.0,4.0)</c>) or <c>Id</c> for the newest stable.</summary>
    public IReadOnlyList<string> Packages { get; init; } = [];

    /// <summary>Extra package sources: folders or feed URLs. Default: none beyond the node's NuGet.Config.</summary>
    public IReadOnlyList<string> Sources { get; init; } = [];

    /// <summary>
    /// Whether a package must resolve to the lowest version its range allows (<c>exact</c> in JSON).
    /// <c>Id@1.2.3</c> means "1.2.3 or later", as in NuGet: when the feed lacks 1.2.3, or another
    /// package needs a later one, NuGet takes a later version. Default false: the setup goes on and
    /// the driver's logger warns, naming both versions; true fails the setup instead.
    /// </summary>
    public bool Exact { get; init; }

    /// <summary>Builds a spec from package strings.</summary>
    public static NuGetSpec Create(ReadOnlySpan<string> packages) => new() { Packages = packages.ToArray() };

    /// <inheritdoc />
    public IEnumerator<string> GetEnumerator() => Packages.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
