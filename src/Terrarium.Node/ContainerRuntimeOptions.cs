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
    /// The run options a node refuses in an env by default: each would let a job's code out of its
    /// container — at the node's files (mounts, files podman reads or writes for it), its
    /// processes, devices or namespaces, or privileges the node's user has. A job could then change
    /// the node's cache, and so other jobs' envs.
    /// </summary>
    public static IReadOnlyList<string> DeniedByDefault { get; } =
    [
        "--privileged", "--cap-add", "--security-opt", "--seccomp-policy", "--device", "--device-cgroup-rule", "--gpus",
        "--volume", "--mount", "--volumes-from", "--rootfs", "--pid", "--ipc", "--uts", "--userns", "--cgroupns", "--cgroup-parent",
        "--uidmap", "--gidmap", "--subuidname", "--subgidname", "--group-add", "--secret", "--env-host", "--env-file", "--label-file",
        "--pidfile", "--cidfile", "--conmon-pidfile", "--log-driver", "--log-opt", "--init-path", "--systemd", "--sdnotify",
        "--preserve-fds", "--preserve-fd", "--chrootdirs", "--annotation", "--authfile", "--decryption-key", "--cert-dir",
        "--health-log-destination", "--hostuser", "--requires",
    ];

    /// <summary>
    /// Options of <see cref="DeniedByDefault"/> this node allows in envs' run options (long names,
    /// <c>--volume</c> for <c>-v</c>): an operator who trusts every job author with them. Default: none.
    /// </summary>
    public IReadOnlyList<string> AllowedRunOptions { get; init; } = [];

    /// <summary>More options (long names) this node refuses in envs' run options. Default: none.</summary>
    public IReadOnlyList<string> DeniedRunOptions { get; init; } = [];

    /// <summary>
    /// Why this node refuses one of an env's <paramref name="runOptions"/>, naming the option and the
    /// setting that allows it; null when it takes them all. The node's own <see cref="DefaultRunOptions"/>
    /// are its operator's and not checked.
    /// </summary>
    public string? PolicyRefusal(IReadOnlyList<string> runOptions, string nodeId)
    {
        ArgumentNullException.ThrowIfNull(runOptions);
        for (var i = 0; i < runOptions.Count; i++)
        {
            if (LongName(runOptions[i]) is not { } name)
            {
                continue;
            }

            if (DeniedRunOptions.Contains(name, StringComparer.Ordinal))
            {
                return $"run_options[{i}] '{runOptions[i]}' is refused by node {nodeId}'s container policy: its operator denies {name} (--container-deny-option)";
            }

            if (DeniedByDefault.Contains(name, StringComparer.Ordinal) && !AllowedRunOptions.Contains(name, StringComparer.Ordinal))
            {
                return $"run_options[{i}] '{runOptions[i]}' is refused by node {nodeId}'s container policy: {name} would let the job's code out of its container " +
                    $"(at the node's files, processes, devices or privileges). An operator who trusts every job with it allows it with " +
                    $"'terrarium start --container-allow-option={name}' (ContainerRuntimeOptions.AllowedRunOptions)";
            }
        }

        return null;
    }

    /// <summary>An option's long name (<c>-v</c> is <c>--volume</c>), or null for a value.</summary>
    private static string? LongName(string option) =>
        option.StartsWith("--", StringComparison.Ordinal) ? option.Split('=', 2)[0]
        : option.StartsWith('-') && option.Length > 1 && option[1..].TakeWhile(char.IsAsciiLetter).Contains('v') ? "--volume"
        : null;

    /// <summary>Why these run options cannot be used (they would cut the worker off its node), or null when they can.</summary>
    public static string? RefusalOf(IReadOnlyList<string> runOptions)
    {
        ArgumentNullException.ThrowIfNull(runOptions);
        return global::Terrarium.Protocol.RuntimeEnvs.Fields.ContainerRunOptions.RefusalOf(runOptions);
    }
}
