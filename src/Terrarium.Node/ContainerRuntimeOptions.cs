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

    /// <summary>Why these run options cannot be used (they would cut the worker off its node), or null when they can.</summary>
    public static string? RefusalOf(IReadOnlyList<string> runOptions)
    {
        ArgumentNullException.ThrowIfNull(runOptions);
        return global::Terrarium.Internal.RuntimeEnvFields.ContainerRunOptions.RefusalOf(runOptions);
    }
}
