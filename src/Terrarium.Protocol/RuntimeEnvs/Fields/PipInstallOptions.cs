namespace Terrarium.Protocol.RuntimeEnvs.Fields;

/// <summary>
/// The pip options an env may not give: they would install or write outside the env's virtual
/// environment (into the node's cache, where other jobs' envs live, or anywhere on the node), into
/// another interpreter's environment, or pull in more requirements and options from files of the
/// node. pip accepts any unambiguous prefix of a long option (<c>--targ</c>) and short options in
/// clusters (<c>-qt</c>): both are caught. A task outside a container runs as the node's user anyway:
/// this keeps an env's build from reaching past its venv by mistake, and a container's from reaching
/// the node's cache at all.
/// </summary>
internal static class PipInstallOptions
{
    // Short forms of the refused: -t --target, -r --requirement, -c --constraint, -e --editable.
    private const string RefusedShort = "trce";

    // Allowed short options that take a value: what follows them in a cluster is that value.
    private const string ValueShort = "if";

    private static readonly string[] s_refused =
    [
        "--target", "--prefix", "--root", "--user", "--src", "--log", "--log-file", "--report", "--cache-dir", "--requirement", "--constraint",
        "--editable", "--python", "--install-option", "--global-option",
    ];

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
        else if (option.StartsWith('-') && option.Length > 1 && RefusedLetter(option[1..]) is { } letter)
        {
            return $"'{option}' (-{letter}) would make pip install or write outside the env's virtual environment, or read more from the node's files";
        }

        return null;
    }

    /// <summary>Why a line of requirements is refused: any option on it (<c>foo --install-option=…</c> too).</summary>
    public static string? LineRefusal(string line) =>
        line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Where(t => t.StartsWith('-')).Select(Refusal).FirstOrDefault(r => r is not null);

    /// <summary>The refused letter of a cluster of short options, up to the first one that takes a value.</summary>
    private static char? RefusedLetter(string cluster)
    {
        foreach (var letter in cluster.TakeWhile(char.IsAsciiLetter))
        {
            if (RefusedShort.Contains(letter, StringComparison.Ordinal))
            {
                return letter;
            }

            if (ValueShort.Contains(letter, StringComparison.Ordinal))
            {
                return null;
            }
        }

        return null;
    }
}
