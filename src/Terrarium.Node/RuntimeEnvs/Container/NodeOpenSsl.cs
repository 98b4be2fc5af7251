namespace Terrarium.Node.RuntimeEnvs.Container;

/// <summary>
/// The OpenSSL libraries this node's .NET runtime uses, to lend to workers in an image that has
/// none (a minimal Debian has no libssl3): found where this process loaded them, so they are the
/// ones the node's runtime works with.
/// </summary>
internal static class NodeOpenSsl
{
    /// <summary>Where they are mounted in a container: a folder of Terrarium's, on no default search path.</summary>
    public const string MountFolder = "/run/terrarium/openssl";

    /// <summary>
    /// Tells the worker what to put back in <c>LD_LIBRARY_PATH</c> once the loader has read it
    /// (<c>unset</c>, or <c>set:</c> and a value): user processes in the container then see the
    /// image as it is, without the node's libraries.
    /// </summary>
    public const string RestoreVariable = "TERRARIUM_RESTORE_LD_LIBRARY_PATH";

    private static readonly Lazy<IReadOnlyList<string>> s_files = new(Find);

    /// <summary>The real files of <c>libssl.so.*</c> and <c>libcrypto.so.*</c> loaded here; empty when none is.</summary>
    public static IReadOnlyList<string> Files => s_files.Value;

    /// <summary>
    /// The name the loader asks for: <c>libssl.so.3</c> for <c>libssl.so.3.1.1</c> (as RPM-based systems
    /// name the file) — the .NET runtime opens <c>libssl.so.3</c>, and libssl asks for <c>libcrypto.so.3</c>.
    /// </summary>
    public static string Soname(string library)
    {
        var name = Path.GetFileName(library);
        var major = name.IndexOf(".so.", StringComparison.Ordinal) + ".so.".Length;
        var end = name.IndexOf('.', major);
        return end < 0 ? name : name[..end];
    }

    private static IReadOnlyList<string> Find()
    {
        // The runtime loads OpenSSL on first use of cryptography: make sure it has.
        System.Security.Cryptography.SHA256.HashData([]);
        using var ecdsa = System.Security.Cryptography.ECDsa.Create();
        try
        {
            return File.ReadLines("/proc/self/maps")
                .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "")
                .Where(path => path.StartsWith('/') && Path.GetFileName(path) is var name && (name.StartsWith("libssl.so.", StringComparison.Ordinal) || name.StartsWith("libcrypto.so.", StringComparison.Ordinal)))
                .Distinct(StringComparer.Ordinal)
                .ToList();
        }
        catch (IOException)
        {
            return [];
        }
    }
}
