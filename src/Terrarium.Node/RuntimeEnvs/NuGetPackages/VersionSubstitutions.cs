using NuGet.Versioning;
using Terrarium.Protocol;

namespace Terrarium.Node.RuntimeEnvs.NuGetPackages;

/// <summary>
/// Where NuGet resolved a package to a version other than the lowest its range allows. <c>Id@1.2.3</c>
/// means "1.2.3 or later" to NuGet: a feed without 1.2.3 gets the nearest later one (NU1603), and a
/// package that needs a later one raises it — both silently, unless someone says so.
/// </summary>
internal static class VersionSubstitutions
{
    /// <summary>Each substitution, as a sentence naming the package, both versions and how to pin it.</summary>
    public static IEnumerable<string> Find(IEnumerable<string> asked, IReadOnlyList<ResolvedNuGetPackage> resolved)
    {
        foreach (var package in asked)
        {
            var at = package.IndexOf('@', StringComparison.Ordinal);
            // No range asks for the newest; a floating one (2.*) for whatever is newest within it.
            if (at < 0 || !VersionRange.TryParse(package[(at + 1)..], out var range) ||
                range is not { HasLowerBound: true, IsMinInclusive: true, IsFloating: false })
            {
                continue;
            }

            var id = package[..at];
            var got = resolved.FirstOrDefault(r => string.Equals(r.Id, id, StringComparison.OrdinalIgnoreCase));
            if (got is null || !NuGetVersion.TryParse(got.Version, out var version) || VersionComparer.Default.Equals(version, range.MinVersion))
            {
                continue;
            }

            var lowest = range.MinVersion!.ToNormalizedString();
            yield return $"{id} {lowest} was asked for ('{package}') and NuGet resolved {version.ToNormalizedString()}: " +
                $"the feeds have no {lowest}, or another package needs a later one; '{id}@[{lowest}]' asks for exactly {lowest}";
        }
    }
}
