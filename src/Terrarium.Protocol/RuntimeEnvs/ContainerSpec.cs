namespace Terrarium;

/// <summary>A container image the worker runs in (<c>container</c> in JSON).</summary>
public sealed record ContainerSpec
{
    /// <summary>The image reference. Required.</summary>
    public required string Image { get; init; }

    /// <summary>Extra options for the container runtime's <c>run</c>. Default: none.</summary>
    public IReadOnlyList<string> RunOptions { get; init; } = [];
}
