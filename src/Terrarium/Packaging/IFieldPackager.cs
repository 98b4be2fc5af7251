namespace Terrarium.Packaging;

/// <summary>
/// What the driver does, before an env is hashed and sent, with one field that names local files:
/// ships them as <c>pkg://</c> packages any node can fetch, or reads them into the value. A field
/// that names no local files has no packager.
/// </summary>
internal interface IFieldPackager
{
    /// <summary>Whether <paramref name="env"/>'s value of the field names local files, or URIs to check.</summary>
    bool NamesFiles(RuntimeEnv env);

    /// <summary>
    /// Whether those are files users edit between submissions (code, data, requirement files), so
    /// that the env is packaged again at every submission rather than remembered.
    /// </summary>
    bool NamesEditableFiles(RuntimeEnv env);

    /// <summary><paramref name="env"/> with the field's local files shipped or read, through <paramref name="files"/>.</summary>
    /// <exception cref="ArgumentException">A path is missing or unreadable, a URI is wrong, or a package is too large.</exception>
    RuntimeEnv Package(RuntimeEnv env, LocalFiles files);
}
