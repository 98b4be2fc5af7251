namespace Terrarium.Packaging.Fields;

/// <summary>
/// <c>nuget</c>: a local folder feed in <c>sources</c> is shipped like a working dir, so that any
/// node can restore from it. It is not checked again at every submission: NuGet treats a package id
/// and version as immutable.
/// </summary>
internal sealed class NuGetPackager : IFieldPackager
{
    public bool NamesFiles(RuntimeEnv env) => env.NuGet?.Sources.Count > 0;

    public bool NamesEditableFiles(RuntimeEnv env) => false;

    public RuntimeEnv Package(RuntimeEnv env, LocalFiles files) =>
        env with { NuGet = env.NuGet! with { Sources = env.NuGet.Sources.Select(s => Ship(s, files)).ToList() } };

    private static string Ship(string source, LocalFiles files)
    {
        if (!IsLocalFolder(source))
        {
            return source;
        }

        var path = Uri.TryCreate(source, UriKind.Absolute, out var uri) ? uri.LocalPath : Path.GetFullPath(source);
        return Directory.Exists(path)
            ? files.ShipDirectory(path, "nuget.sources", applyExcludes: false)
            : throw new ArgumentException($"nuget source '{source}' is neither a feed URL nor an existing folder (resolved to {path})", files.ParamName);
    }

    private static bool IsLocalFolder(string source)
    {
        if (source.StartsWith(PackageUri.Scheme, StringComparison.Ordinal))
        {
            return false;
        }

        // On Unix "/abs/path" parses as a file URI; "https://feed/v3/index.json" is not local.
        return !Uri.TryCreate(source, UriKind.Absolute, out var uri) || uri.IsFile;
    }
}
