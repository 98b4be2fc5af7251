namespace Terrarium.Protocol.RuntimeEnvs.Fields;

/// <summary>What a container's image and run options may be; checked by clients at submission and again by nodes.</summary>
internal static class ContainerRunOptions
{
    /// <summary>
    /// Options the node sets itself, because the worker reaches its node, the head and other workers
    /// over the host's network and the node manages the container's lifetime, input and directory.
    /// </summary>
    private static readonly string[] s_refused =
        ["--network", "--net", "--pod", "--name", "--rm", "--detach", "--interactive", "--tty", "--attach", "--entrypoint", "--restart", "--replace", "--workdir"];

    /// <summary>Short forms of refused options; a bundle such as <c>-it</c> is refused when it holds one.</summary>
    private const string RefusedShort = "aditw";

    /// <summary>Not empty, no whitespace, and not an option in disguise (<c>--privileged</c>).</summary>
    public static bool IsImageReference(string? image) =>
        !string.IsNullOrEmpty(image) && !image.StartsWith('-') && !image.Any(c => char.IsWhiteSpace(c) || c == '\0');

    /// <summary>Why these run options cannot be used, or null when they can.</summary>
    public static string? RefusalOf(IReadOnlyList<string> runOptions)
    {
        for (var i = 0; i < runOptions.Count; i++)
        {
            var option = runOptions[i];
            if (option is null || option.Contains('\0', StringComparison.Ordinal))
            {
                return $"run_options[{i}] must be a string without NUL characters";
            }

            var name = option.Split('=', 2)[0];
            var refusedBundle = name.Length >= 2 && name[0] == '-' && name[1] != '-' && name[1..].All(char.IsAsciiLetter) &&
                name[1..].Any(c => RefusedShort.Contains(c, StringComparison.Ordinal));
            if (s_refused.Contains(name, StringComparer.Ordinal) || refusedBundle)
            {
                return $"run_options[{i}] '{option}' is set by Terrarium itself: the worker shares the host's network to reach its node, " +
                    $"and the node owns the container's name, lifetime, input and directory (refused: {string.Join(", ", s_refused)}, and -a, -d, -i, -t, -w)";
            }
        }

        return null;
    }
}
