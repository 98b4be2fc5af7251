namespace Terrarium.Node;

/// <summary>How a node builds <c>pip</c> and <c>conda</c> runtime envs.</summary>
public sealed record PythonOptions
{
    /// <summary>The Python that creates virtual environments for <c>pip</c>. Default: <c>python3</c> on PATH.</summary>
    public string Interpreter { get; init; } = "python3";

    /// <summary>
    /// The conda-compatible tool that looks up environments by name and creates them from specs.
    /// Default: null, the first of <c>micromamba</c>, <c>mamba</c> and <c>conda</c> on PATH.
    /// </summary>
    public string? CondaCommand { get; init; }
}
