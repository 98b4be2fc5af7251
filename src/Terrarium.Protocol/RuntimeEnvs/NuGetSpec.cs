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

    /// <summary>Builds a spec from package strings.</summary>
    public static NuGetSpec Create(ReadOnlySpan<string> packages) => new() { Packages = packages.ToArray() };

    /// <inheritdoc />
    public IEnumerator<string> GetEnumerator() => Packages.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
