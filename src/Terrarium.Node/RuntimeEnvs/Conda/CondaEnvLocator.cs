using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Terrarium.Node.RuntimeEnvs.Conda;

/// <summary>
/// Finds a conda environment by name where conda itself keeps them, without running conda: the
/// folders <c>CONDA_ENVS_PATH</c> names, the <c>envs_dirs</c> of the user's <c>.condarc</c> files,
/// the <c>envs</c> folder of each conda root (<c>MAMBA_ROOT_PREFIX</c>, <c>CONDA_ROOT</c>, the root of
/// <c>CONDA_EXE</c> or of the node's conda tool), <c>~/.conda/envs</c>, and the prefixes conda listed
/// in <c>~/.conda/environments.txt</c>. <c>base</c> is a root itself. Only a folder with
/// <c>conda-meta</c> is a conda environment.
/// </summary>
internal static class CondaEnvLocator
{
    /// <summary>Where the environment <paramref name="name"/> would be, in the order conda looks, each with where that place comes from.</summary>
    /// <param name="name">The environment's name.</param>
    /// <param name="environment">The node's environment variables, by name.</param>
    /// <param name="home">The node's user's home folder.</param>
    /// <param name="tool">The node's conda tool, if it has one: its root counts too.</param>
    public static IEnumerable<(string Prefix, string Source)> Candidates(string name, Func<string, string?> environment, string home, string? tool)
    {
        foreach (var variable in new[] { "CONDA_ENVS_PATH", "CONDA_ENVS_DIRS" })
        {
            foreach (var folder in (environment(variable) ?? "").Split([Path.PathSeparator, ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                yield return (Path.Combine(Expand(folder, home), name), variable);
            }
        }

        var roots = new[]
        {
            (environment("MAMBA_ROOT_PREFIX"), "MAMBA_ROOT_PREFIX"),
            (environment("CONDA_ROOT"), "CONDA_ROOT"),
            (RootOf(environment("CONDA_EXE")), "CONDA_EXE"),
            (RootOf(tool), "the node's conda tool"),
        }.Where(r => !string.IsNullOrEmpty(r.Item1)).Select(r => (Root: Expand(r.Item1!, home), Source: r.Item2)).ToList();
        foreach (var condarc in ConfigFiles(environment, home, roots.Select(r => r.Root)))
        {
            foreach (var folder in EnvsDirs(condarc))
            {
                yield return (Path.Combine(Expand(folder, home), name), condarc);
            }
        }

        foreach (var (root, source) in roots)
        {
            yield return name == "base" ? (root, source) : (Path.Combine(root, "envs", name), source);
        }

        yield return (Path.Combine(home, ".conda", "envs", name), "~/.conda/envs");
        var listed = Path.Combine(home, ".conda", "environments.txt");
        if (File.Exists(listed))
        {
            foreach (var prefix in File.ReadLines(listed).Select(l => l.Trim()).Where(l => l.StartsWith('/') && Path.GetFileName(l) == name))
            {
                yield return (prefix, listed);
            }
        }
    }

    /// <summary>The first candidate that is a conda environment, or null.</summary>
    public static string? Find(string name, Func<string, string?> environment, string home, string? tool) =>
        Candidates(name, environment, home, tool).Select(c => c.Prefix).FirstOrDefault(p => Directory.Exists(Path.Combine(p, "conda-meta")));

    /// <summary>The <c>.condarc</c> files conda reads, those that exist, in its order.</summary>
    private static IEnumerable<string> ConfigFiles(Func<string, string?> environment, string home, IEnumerable<string> roots)
    {
        var xdg = environment("XDG_CONFIG_HOME") is { Length: > 0 } config ? config : Path.Combine(home, ".config");
        return roots.Select(r => Path.Combine(r, ".condarc"))
            .Concat([Path.Combine(xdg, "conda", ".condarc"), Path.Combine(xdg, "conda", "condarc"), Path.Combine(home, ".conda", ".condarc"),
                Path.Combine(home, ".conda", "condarc"), Path.Combine(home, ".condarc")])
            .Concat(environment("CONDARC") is { Length: > 0 } given ? [given] : [])
            .Distinct()
            .Where(File.Exists);
    }

    /// <summary>The <c>envs_dirs</c> (or older <c>envs_path</c>) of a <c>.condarc</c>; none when it does not read as YAML.</summary>
    private static IEnumerable<string> EnvsDirs(string condarc)
    {
        var yaml = new YamlStream();
        try
        {
            yaml.Load(new StringReader(File.ReadAllText(condarc)));
        }
        catch (Exception e) when (e is YamlException or IOException or UnauthorizedAccessException)
        {
            return [];
        }

        return yaml.Documents.FirstOrDefault()?.RootNode is YamlMappingNode settings
            ? settings.Children
                .Where(s => s.Key is YamlScalarNode { Value: "envs_dirs" or "envs_path" })
                .SelectMany(s => s.Value is YamlSequenceNode folders ? folders.OfType<YamlScalarNode>().Select(f => f.Value ?? "") : [])
                .Where(f => f.Length > 0)
                .ToList()
            : [];
    }

    /// <summary>A conda tool's root: the folder above its <c>bin</c> (or <c>condabin</c>).</summary>
    private static string? RootOf(string? tool) =>
        tool is { Length: > 0 } && Path.IsPathRooted(tool) ? Path.GetDirectoryName(Path.GetDirectoryName(tool)) : null;

    private static string Expand(string folder, string home) =>
        folder == "~" ? home : folder.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(home, folder[2..]) : folder;
}
