using System.IO.Compression;

namespace Terrarium.Internal.Packaging;

/// <summary>
/// Replaces the local paths of a runtime env (<c>working_dir</c>, <c>modules</c>) with content URIs,
/// packaging and uploading what the head lacks, and reads the Python spec files it names into it. Remote URIs are checked and passed on; the env's
/// <c>excludes</c> are spent here, since the content URIs already reflect them.
/// </summary>
internal sealed class EnvPackager(DirectoryPackager packager, PackageUploader uploader)
{
    private static readonly string[] s_remoteSchemes = ["https://", "http://", "file://"];

    public static bool HasPathsOrUris(RuntimeEnv env) =>
        env.WorkingDir is not null || env.Modules is not null || env.Excludes is not null || env.NuGet?.Sources.Count > 0 || HasPythonSpecFile(env);

    /// <summary>A requirements.txt or environment.yml, read at every submission like a working dir.</summary>
    private static bool HasPythonSpecFile(RuntimeEnv env) =>
        env.Pip?.RequirementsFile is not null || (env.Conda?.Environment is { } conda && PythonSpecFiles.IsEnvironmentFile(conda));

    /// <summary>
    /// Whether the env names local code or files that users edit between submissions (working_dir,
    /// modules), which must be checked again at every submission. Local NuGet feed folders are not
    /// among them: NuGet treats a package id and version as immutable, so they are packed once.
    /// </summary>
    public static bool HasEditableLocalPaths(RuntimeEnv env) =>
        (env.WorkingDir is { } dir && IsLocal(dir)) || env.Modules?.Any(IsLocal) == true || env.Excludes is not null || HasPythonSpecFile(env);

    /// <exception cref="ArgumentException">A path is missing or unreadable, a URI is not a zip, or a package is too large.</exception>
    public RuntimeEnv Resolve(RuntimeEnv env, string paramName)
    {
        if (!HasPathsOrUris(env))
        {
            return env;
        }

        var excludes = env.Excludes ?? [];
        var workingDir = env.WorkingDir is { } dir ? ResolveWorkingDir(dir, excludes, paramName) : null;
        var modules = env.Modules?.Select(m => ResolveModule(m, excludes, paramName)).ToList();
        var nuget = env.NuGet is { Sources.Count: > 0 } spec
            ? spec with { Sources = spec.Sources.Select(s => ResolveNuGetSource(s, paramName)).ToList() }
            : env.NuGet;
        var pip = env.Pip is { RequirementsFile: { } file } pipSpec
            ? pipSpec with { Packages = [.. PythonSpecFiles.ReadRequirements(file, paramName), .. pipSpec.Packages], RequirementsFile = null }
            : env.Pip;
        var conda = env.Conda is { Environment: { } name } && PythonSpecFiles.IsEnvironmentFile(name)
            ? new CondaSpec { SpecJson = PythonSpecFiles.ReadEnvironmentFile(name, paramName) }
            : env.Conda;
        return env with { WorkingDir = workingDir, Modules = modules, Excludes = null, NuGet = nuget, Pip = pip, Conda = conda };
    }

    private string ResolveWorkingDir(string value, IReadOnlyList<string> excludes, string paramName)
    {
        if (!IsLocal(value))
        {
            return CheckUri(value, "working_dir", [".zip"], paramName);
        }

        var path = Path.GetFullPath(value);
        if (Directory.Exists(path))
        {
            return Upload(packager.PackDirectory(path, excludes, "working_dir"));
        }

        if (File.Exists(path) && path.EndsWith(".zip", StringComparison.OrdinalIgnoreCase))
        {
            return Upload(RepackZip(path, excludes, "working_dir", paramName));
        }

        throw new ArgumentException($"working_dir '{value}' does not exist or is neither a directory nor a .zip (resolved to {path})", paramName);
    }

    /// <summary>A local folder feed is shipped like a working dir, so that any node can restore from it.</summary>
    private string ResolveNuGetSource(string source, string paramName)
    {
        if (!IsLocalFolderSource(source))
        {
            return source;
        }

        var path = Uri.TryCreate(source, UriKind.Absolute, out var uri) ? uri.LocalPath : Path.GetFullPath(source);
        return Directory.Exists(path)
            ? Upload(packager.PackDirectory(path, [], "nuget.sources"))
            : throw new ArgumentException($"nuget source '{source}' is neither a feed URL nor an existing folder (resolved to {path})", paramName);
    }

    private static bool IsLocalFolderSource(string source)
    {
        if (source.StartsWith(PackageUri.Scheme, StringComparison.Ordinal))
        {
            return false;
        }

        // On Unix "/abs/path" parses as a file URI; "https://feed/v3/index.json" is not local.
        return !Uri.TryCreate(source, UriKind.Absolute, out var uri) || uri.IsFile;
    }

    private string ResolveModule(string value, IReadOnlyList<string> excludes, string paramName)
    {
        if (!IsLocal(value))
        {
            return CheckUri(value, "modules", [".zip", ".nupkg"], paramName);
        }

        var path = Path.GetFullPath(value);
        if (Directory.Exists(path))
        {
            return Upload(packager.PackDirectory(path, excludes, "modules"));
        }

        if (File.Exists(path) && path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            return Upload(packager.PackFile(path, "modules"));
        }

        if (File.Exists(path) && path.EndsWith(".nupkg", StringComparison.OrdinalIgnoreCase))
        {
            // A .nupkg is a zip already: the node picks the lib folder that fits its runtime.
            return Upload(RepackZip(path, [], "modules", paramName));
        }

        throw new ArgumentException($"module '{value}' does not exist or is not a directory, .dll or .nupkg (resolved to {path})", paramName);
    }

    /// <summary>Unpacks a local zip and packs it again, so that excludes apply and the hash is canonical.</summary>
    private PackageFile RepackZip(string zipPath, IReadOnlyList<string> excludes, string field, string paramName)
    {
        var scratch = Directory.CreateTempSubdirectory("terrarium-zip-").FullName;
        try
        {
            try
            {
                ZipFile.ExtractToDirectory(zipPath, scratch);
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                throw new ArgumentException($"{field} '{zipPath}' is not a readable zip: {e.Message}", paramName, e);
            }

            return packager.PackDirectory(scratch, excludes, field);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private string Upload(PackageFile package)
    {
        // Submit is synchronous by contract (it returns the ref at once), and the upload must finish
        // before the task that needs it is sent; no synchronization context is involved here.
        uploader.EnsureUploadedAsync(package, CancellationToken.None).GetAwaiter().GetResult();
        return package.Uri;
    }

    private static string CheckUri(string value, string field, string[] extensions, string paramName)
    {
        if (value.StartsWith(PackageUri.Scheme, StringComparison.Ordinal))
        {
            var hash = value[PackageUri.Scheme.Length..];
            return hash.Length == 64 && hash.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f')
                ? value
                : throw new ArgumentException($"{field} '{value}' is not a valid content URI (pkg:// and a lowercase SHA-256)", paramName);
        }

        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri))
        {
            throw new ArgumentException($"{field} '{value}' is not a valid URI", paramName);
        }

        if (uri.Scheme == Uri.UriSchemeHttp)
        {
            throw new ArgumentException($"{field} '{value}': use https:// (plain http is refused)", paramName);
        }

        if (!extensions.Any(e => uri.AbsolutePath.EndsWith(e, StringComparison.OrdinalIgnoreCase)))
        {
            throw new ArgumentException($"{field} '{value}' must point to a {string.Join(" or ", extensions)} file", paramName);
        }

        if (uri.Fragment.Length > 0 && !System.Text.RegularExpressions.Regex.IsMatch(uri.Fragment, "^#sha256=[0-9a-f]{64}$"))
        {
            throw new ArgumentException($"{field} '{value}': the only fragment allowed is #sha256=<64 lowercase hex digits>", paramName);
        }

        if (uri.IsFile)
        {
            if (!File.Exists(uri.LocalPath))
            {
                throw new ArgumentException($"{field} '{value}' does not exist (resolved to {uri.LocalPath})", paramName);
            }

            try
            {
                using var zip = ZipFile.OpenRead(uri.LocalPath);
            }
            catch (InvalidDataException e)
            {
                throw new ArgumentException($"{field} '{value}' is not a zip: {e.Message}", paramName, e);
            }
        }

        return value;
    }

    private static bool IsLocal(string value) =>
        !value.StartsWith(PackageUri.Scheme, StringComparison.Ordinal) && !s_remoteSchemes.Any(s => value.StartsWith(s, StringComparison.OrdinalIgnoreCase));
}
