namespace Terrarium.Node.RuntimeEnvs.Caching;

/// <summary>
/// One folder of the node's cache that envs use and the collector may delete as a whole: an
/// unpacked package (<c>working_dir</c>, which counts every shipped package — working dirs, modules,
/// local feeds), a venv (<c>pip</c>), a conda env made from a spec (<c>conda</c>), a version of a
/// NuGet package (<c>nuget</c>), or the record of an image the node pulled (<c>container</c>; the
/// image goes with it, see <see cref="Container.PulledImages"/>).
/// </summary>
/// <param name="Kind">The limit it counts against: <c>working_dir</c>, <c>pip</c>, <c>conda</c>, <c>nuget</c> or <c>container</c>.</param>
/// <param name="Name">Its path relative to the cache folder (<c>pip/3f9a…</c>): its identity.</param>
/// <param name="Path">Its full path.</param>
internal sealed record CachedResource(string Kind, string Name, string Path)
{
    /// <summary>Every kind, each with a limit of its own.</summary>
    public static IReadOnlyList<string> Kinds { get; } = ["working_dir", "pip", "conda", "nuget", "container"];

    /// <summary>The folders of the cache whose each subfolder is one resource.</summary>
    public static IReadOnlyList<string> FlatParents { get; } = ["packages", "pip", "conda", "images"];

    /// <summary>The resources in <paramref name="cache"/> now, complete or not.</summary>
    public static IEnumerable<CachedResource> OnDisk(string cache)
    {
        foreach (var folder in Folders(System.IO.Path.Combine(cache, "packages")))
        {
            yield return Of(cache, folder)!;
        }

        foreach (var kind in new[] { "pip", "conda", "images" })
        {
            foreach (var folder in Folders(System.IO.Path.Combine(cache, kind)))
            {
                yield return Of(cache, folder)!;
            }
        }

        foreach (var folder in Folders(System.IO.Path.Combine(cache, "nuget", "packages")).SelectMany(Folders))
        {
            yield return Of(cache, folder)!;
        }
    }

    /// <summary>The resource <paramref name="path"/> is in (or is), or null for a path outside them.</summary>
    public static CachedResource? Of(string cache, string path)
    {
        var relative = System.IO.Path.GetRelativePath(cache, path);
        if (relative.StartsWith("..", StringComparison.Ordinal) || System.IO.Path.IsPathRooted(relative))
        {
            return null;
        }

        var parts = relative.Split(System.IO.Path.DirectorySeparatorChar);
        return parts switch
        {
            ["packages", var name, ..] => New("working_dir", cache, "packages", name),
            ["pip", var name, ..] => New("pip", cache, "pip", name),
            ["conda", var name, ..] => New("conda", cache, "conda", name),
            ["images", var name, ..] => New("container", cache, "images", name),
            ["nuget", "packages", var id, var version, ..] => New("nuget", cache, "nuget", "packages", id, version),
            _ => null,
        };
    }

    /// <summary>The resources an env's workers read: every cache path it gives them.</summary>
    public static IEnumerable<CachedResource> UsedBy(PreparedEnv env, string cache) =>
        new[] { env.WorkingDirectory }.Concat(env.AssemblyDirectories).Concat(env.PathEntries).Concat(env.ReadFolders).Concat(env.CachedFolders)
            .Concat(env.PreloadedAssemblies.Values).Concat(env.NativeLibraries.Values).Concat(env.EnvVars.Values)
            .OfType<string>()
            .Where(p => p.StartsWith('/'))
            .Select(p => Of(cache, p))
            .OfType<CachedResource>()
            .Distinct();

    private static CachedResource New(string kind, string cache, params string[] parts)
    {
        var name = string.Join('/', parts);
        return new CachedResource(kind, name, System.IO.Path.Combine([cache, .. parts]));
    }

    /// <summary>The folders in <paramref name="parent"/>, less those being made (<c>.tmp</c>) or deleted (<c>.deleting</c>).</summary>
    private static IEnumerable<string> Folders(string parent)
    {
        try
        {
            return Directory.GetDirectories(parent).Where(f => !f.EndsWith(".tmp", StringComparison.Ordinal) && !f.EndsWith(".deleting", StringComparison.Ordinal));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not there (yet, or any more: a collection took it meanwhile).
            return [];
        }
    }
}
