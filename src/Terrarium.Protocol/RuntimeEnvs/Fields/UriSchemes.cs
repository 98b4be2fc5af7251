namespace Terrarium.Protocol.RuntimeEnvs.Fields;

/// <summary>The URI schemes Terrarium fetches packages from.</summary>
internal static class UriSchemes
{
    private static readonly string[] s_fetched = ["https", "file", "pkg"];

    /// <summary>
    /// A URI whose scheme Terrarium does not fetch (<c>s3://</c>, <c>gs://</c>, ...) is refused by name;
    /// taken for a local path it would fail with a confusing "…/s3:/bucket does not exist".
    /// </summary>
    public static void Check(string field, string value, string paramName)
    {
        var end = value.IndexOf("://", StringComparison.Ordinal);
        if (end <= 0 || value[..end].Any(c => !char.IsAsciiLetterOrDigit(c) && c is not ('+' or '-' or '.')))
        {
            return;
        }

        var scheme = value[..end].ToLowerInvariant();
        if (scheme == "http")
        {
            throw new ArgumentException($"runtime_env.{field} '{value}': use https:// (plain http is refused)", paramName);
        }

        if (!s_fetched.Contains(scheme))
        {
            throw new ArgumentException(
                $"runtime_env.{field} '{value}' uses the scheme '{scheme}://', which Terrarium does not fetch; " +
                "use a local path, an https:// or file:// URI of a zip, or a pkg:// content URI", paramName);
        }
    }
}
