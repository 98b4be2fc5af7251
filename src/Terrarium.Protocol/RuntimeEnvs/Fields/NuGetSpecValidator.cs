using NuGet.Packaging;
using NuGet.Versioning;

namespace Terrarium.Protocol.RuntimeEnvs.Fields;

/// <summary>Checks <c>nuget</c> package strings with NuGet's own parsing of ids and version ranges.</summary>
internal static class NuGetSpecValidator
{
    public static void Validate(NuGetSpec spec, string paramName)
    {
        if (spec.Packages.Count == 0)
        {
            throw new ArgumentException("runtime_env.nuget lists no packages", paramName);
        }

        foreach (var package in spec.Packages)
        {
            var at = package.IndexOf('@', StringComparison.Ordinal);
            var id = at < 0 ? package : package[..at];
            if (!PackageIdValidator.IsValidPackageId(id))
            {
                throw new ArgumentException($"runtime_env.nuget: '{id}' in '{package}' is not a valid package id", paramName);
            }

            if (at >= 0 && !VersionRange.TryParse(package[(at + 1)..], out _))
            {
                throw new ArgumentException(
                    $"runtime_env.nuget: '{package[(at + 1)..]}' in '{package}' is not a NuGet version or range (examples: 12.0.3, [3.0,4.0), 2.*)", paramName);
            }
        }

        var duplicates = spec.Packages.GroupBy(p => p.Split('@')[0], StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (duplicates.Count > 0)
        {
            throw new ArgumentException($"runtime_env.nuget names {string.Join(", ", duplicates)} more than once", paramName);
        }

        foreach (var source in spec.Sources)
        {
            if (string.IsNullOrWhiteSpace(source))
            {
                throw new ArgumentException("runtime_env.nuget.sources has a blank entry", paramName);
            }

            CheckSource(source, paramName);
        }
    }

    /// <summary>A source is a feed URL (https:// or http://), a local folder (shipped with the env), or its shipped form (pkg://).</summary>
    private static void CheckSource(string source, string paramName)
    {
        if (source.Contains(';', StringComparison.Ordinal))
        {
            throw new ArgumentException(
                $"runtime_env.nuget.sources: '{source}' contains ';', which NuGet reads as a separator between settings; give each source as its own entry", paramName);
        }

        var scheme = source.IndexOf("://", StringComparison.Ordinal) is > 0 and var end ? source[..end].ToLowerInvariant() : null;
        if (scheme is null or "https" or "http" or "file" or "pkg")
        {
            if (scheme is "https" or "http" && (!Uri.TryCreate(source, UriKind.Absolute, out _) || source.Any(char.IsWhiteSpace)))
            {
                throw new ArgumentException($"runtime_env.nuget.sources: '{source}' is not a valid feed URL", paramName);
            }

            return;
        }

        throw new ArgumentException(
            $"runtime_env.nuget.sources: '{source}' uses the scheme '{scheme}://'; a source is an https:// or http:// feed URL or a local folder", paramName);
    }
}
