using System.Collections;
using System.Runtime.CompilerServices;

namespace Terrarium;

/// <summary>
/// A Python virtual environment for the worker (<c>pip</c> in JSON): requirements, or a
/// <c>requirements.txt</c> (read when the task is submitted), plus pip install options. Assignable
/// from a collection expression.
/// </summary>
[CollectionBuilder(typeof(PipSpec), nameof(Create))]
public sealed record PipSpec : IEnumerable<string>
{
    /// <summary>Requirement strings (<c>requests==2.31</c>).</summary>
    public IReadOnlyList<string> Packages { get; init; } = [];

    /// <summary>A local <c>requirements.txt</c>, instead of or besides <see cref="Packages"/>.</summary>
    public string? RequirementsFile { get; init; }

    /// <summary>Extra options for <c>pip install</c> (<c>--no-index</c>, <c>--find-links DIR</c>); Ray's <c>pip_install_options</c>.</summary>
    public IReadOnlyList<string> InstallOptions { get; init; } = [];

    /// <summary>Run <c>pip check</c> after installing, failing the setup on broken dependencies (<c>pip_check</c>). Default: false.</summary>
    public bool PipCheck { get; init; }

    /// <summary>The pip to install into the venv first, as a version or specifier (<c>23.2.1</c>, <c>&lt;24</c>) (<c>pip_version</c>). Default: the venv's own.</summary>
    public string? PipVersion { get; init; }

    /// <summary>Builds a spec from requirement strings.</summary>
    public static PipSpec Create(ReadOnlySpan<string> packages) => new() { Packages = packages.ToArray() };

    /// <inheritdoc />
    public IEnumerator<string> GetEnumerator() => Packages.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
