namespace Terrarium.Node;

/// <summary>How a node runs workers whose runtime env has a <c>container</c>: the command and the options it always adds.</summary>
public sealed record ContainerRuntimeOptions
{
    /// <summary>The container runtime's command; podman's command line is what the node speaks. Default: <c>podman</c>.</summary>
    public string Command { get; init; } = "podman";

    /// <summary>Options before the subcommand, for every call (<c>--root</c>, <c>--runtime</c>, <c>--cgroup-manager</c>). Default: none.</summary>
    public IReadOnlyList<string> GlobalOptions { get; init; } = [];

    /// <summary>
    /// Options for every container this node starts, ahead of an env's own <c>run_options</c>: devices
    /// such as GPUs (<c>--device nvidia.com/gpu=all</c>), resource limits, mounts. Default: none.
    /// </summary>
    public IReadOnlyList<string> DefaultRunOptions { get; init; } = [];

    /// <summary>
    /// Options the node sets itself, because the worker reaches its node, the head and other workers
    /// over the host's network and the node manages the container's lifetime and input.
    /// </summary>
    private static readonly string[] s_refused =
        ["--network", "--net", "--pod", "--name", "--rm", "--detach", "--interactive", "--tty", "--attach", "--entrypoint", "--restart", "--replace", "--workdir"];

    /// <summary>Short forms of refused options; a bundle such as <c>-it</c> is refused when it holds one.</summary>
    private const string RefusedShort = "aditw";

    /// <summary>Why these run options cannot be used, or null when they can.</summary>
    public static string? RefusalOf(IReadOnlyList<string> runOptions)
    {
        ArgumentNullException.ThrowIfNull(runOptions);
        for (var i = 0; i < runOptions.Count; i++)
        {
            var option = runOptions[i];
            if (option is null || option.Contains('\0', StringComparison.Ordinal))
            {
                return $"run_options[{i}] must be a string without NUL characters";
            }

            var name = option.Split('=', 2)[0];
            if (s_refused.Contains(name, StringComparer.Ordinal) ||
                (name.Length >= 2 && name[0] == '-' && name[1] != '-' && name[1..].All(char.IsAsciiLetter) && name[1..].Any(c => RefusedShort.Contains(c, StringComparison.Ordinal))))
            {
                return $"run_options[{i}] '{option}' is set by Terrarium itself: the worker shares the host's network to reach its node, " +
                    $"and the node owns the container's name, lifetime, input and directory (refused: {string.Join(", ", s_refused)}, and -a, -d, -i, -t, -w)";
            }
        }

        return null;
    }
}
