namespace Terrarium;

/// <summary>A conda environment the worker runs in (<c>conda</c> in JSON).</summary>
public sealed record CondaSpec
{
    /// <summary>The name of an existing environment, or the path of its prefix.</summary>
    public string? Environment { get; init; }

    /// <summary>An environment spec (the content of an <c>environment.yml</c>, as JSON), instead of <see cref="Environment"/>.</summary>
    public string? SpecJson { get; init; }
}
