namespace Terrarium.Internal.RuntimeEnvFields;

/// <summary>
/// The pip options an env may not give: they would install or write outside the env's virtual
/// environment (into the node's cache, where other jobs' envs live, or anywhere on the node), or
/// pull in more requirements and options from files of the node. pip accepts any unambiguous
/// prefix of a long option (<c>--targ</c>) and short options in clusters (<c>-qt</c>): both are caught.
/// </summary>
internal static class PipInstallOptions
{
    private static readonly string[] s_refused =
        ["--target", "--prefix", "--root", "--user", "--src", "--log", "--log-file", "--report", "--cache-dir", "--requirement", "--constraint", "--editable"];

    // Short forms of the refused: -t --target, -r --requirement, -c --constraint, -e --editable.
    private const string RefusedShort = "trce";

    // pip options that are also prefixes of a refused one, and so mean themselves.
    private static readonly string[] s_exact = ["--pre"];

    /// <summary>Why <paramref name="option"/> is refused, or null when it may be given.</summary>
    public static string? Refusal(string option)
    {
        if (option.StartsWith("--", StringComparison.Ordinal))
        {
            var name = option.Split('=', 2)[0];
            if (name.Length > 2 && !s_exact.Contains(name) && s_refused.FirstOrDefault(r => r.StartsWith(name, StringComparison.Ordinal)) is { } refused)
            {
                return $"'{option}' ({refused}) would make pip install or write outside the env's virtual environment, or read more from the node's files";
            }
        }
        else if (option.StartsWith('-') && option.Length > 1 && option[1..].TakeWhile(char.IsAsciiLetter).FirstOrDefault(c => RefusedShort.Contains(c)) is var letter and not '\0')
        {
            return $"'{option}' (-{letter}) would make pip install or write outside the env's virtual environment, or read more from the node's files";
        }

        return null;
    }
}
