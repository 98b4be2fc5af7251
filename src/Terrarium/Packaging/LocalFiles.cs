using System.IO.Compression;
using System.Text.RegularExpressions;

namespace Terrarium.Packaging;

/// <summary>
/// The local files of one env being packaged, for its fields' packagers: folders, zips and files
/// shipped as <c>pkg://</c> packages the head holds (the env's <c>excludes</c> applied), and remote
/// URIs checked.
/// </summary>
internal sealed partial class LocalFiles(DirectoryPackager packager, PackageUploader uploader, IReadOnlyList<string> excludes, string paramName)
{
    private static readonly string[] s_remoteSchemes = ["https://", "http://", "file://"];

    /// <summary>The parameter named in errors.</summary>
    public string ParamName => paramName;

    /// <summary>Whether a field's value is a local path rather than a URI.</summary>
    public static bool IsLocal(string value) =>
        !value.StartsWith(PackageUri.Scheme, StringComparison.Ordinal) && !s_remoteSchemes.Any(s => value.StartsWith(s, StringComparison.OrdinalIgnoreCase));

    /// <summary>A folder as a package, its content filtered by the env's excludes unless <paramref name="applyExcludes"/> is false.</summary>
    public string ShipDirectory(string path, string field, bool applyExcludes = true) =>
        Upload(packager.PackDirectory(path, applyExcludes ? excludes : [], field));

    /// <summary>One file as a package holding only it.</summary>
    public string ShipFile(string path, string field) => Upload(packager.PackFile(path, field));

    /// <summary>A local zip unpacked and packed again, so that excludes apply and the hash is canonical.</summary>
    public string ShipZip(string zipPath, string field, bool applyExcludes = true)
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

            return ShipDirectory(scratch, field, applyExcludes);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>A URI the nodes fetch themselves: a valid content URI, or an https/file URI of a file with one of <paramref name="extensions"/>.</summary>
    public string CheckUri(string value, string field, string[] extensions)
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

        if (uri.Fragment.Length > 0 && !Sha256Fragment().IsMatch(uri.Fragment))
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

    /// <summary>The package's URI at once; the upload goes on in the background (nodes wait for a package still arriving).</summary>
    private string Upload(PackageFile package)
    {
        uploader.StartUpload(package);
        return package.Uri;
    }

    [GeneratedRegex("^#sha256=[0-9a-f]{64}$")]
    private static partial Regex Sha256Fragment();
}
