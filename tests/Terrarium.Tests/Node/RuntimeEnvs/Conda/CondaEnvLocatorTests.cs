using Terrarium.Node.RuntimeEnvs.Conda;

namespace Terrarium.Tests.Node.RuntimeEnvs.Conda;

/// <summary>
/// A conda environment found by name in each place conda keeps them, in real conda folder layouts
/// (an <c>envs/NAME</c> with <c>conda-meta</c>, <c>.condarc</c>, <c>environments.txt</c>): no conda tool runs.
/// </summary>
public sealed class CondaEnvLocatorTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("terrarium-conda-locator-");
    private readonly Dictionary<string, string> _variables = [];

    private string Home => Path.Combine(_root.FullName, "home");

    public void Dispose() => _root.Delete(recursive: true);

    [Fact]
    public void InAFolderOfCondaEnvsPath() => AssertFound(Environment("elsewhere/envs/analytics"), () => _variables["CONDA_ENVS_PATH"] = Under("nothing") + ":" + Under("elsewhere/envs"));

    [Fact]
    public void InTheEnvsDirsOfTheUsersCondarc()
    {
        var prefix = Environment("shared/conda-envs/analytics");
        Directory.CreateDirectory(Home);
        File.WriteAllText(Path.Combine(Home, ".condarc"), $"channels:\n  - conda-forge\nenvs_dirs:\n  - ~/missing\n  - {Under("shared/conda-envs")}\n");

        AssertFound(prefix);
    }

    [Fact]
    public void InTheEnvsOfMambasRootPrefix() => AssertFound(Environment("micromamba/envs/analytics"), () => _variables["MAMBA_ROOT_PREFIX"] = Under("micromamba"));

    [Fact]
    public void InTheEnvsOfTheRootOfCondaExe() => AssertFound(Environment("miniconda3/envs/analytics"), () => _variables["CONDA_EXE"] = Under("miniconda3/bin/conda"));

    [Fact]
    public void InTheEnvsOfTheRootOfTheNodesTool()
    {
        var prefix = Environment("opt/conda/envs/analytics");

        Assert.Equal(prefix, CondaEnvLocator.Find("analytics", _variables.GetValueOrDefault, Home, Under("opt/conda/bin/mamba")));
    }

    [Fact]
    public void InTheUsersCondaEnvs() => AssertFound(Environment("home/.conda/envs/analytics"));

    [Fact]
    public void ListedInTheUsersEnvironmentsTxt()
    {
        var prefix = Environment("projects/x/analytics");
        Directory.CreateDirectory(Path.Combine(Home, ".conda"));
        File.WriteAllLines(Path.Combine(Home, ".conda", "environments.txt"), [Under("projects/y/other"), prefix]);

        AssertFound(prefix);
    }

    [Fact]
    public void Base_IsTheRootItself() => AssertFound(Environment("micromamba"), () => _variables["MAMBA_ROOT_PREFIX"] = Under("micromamba"), name: "base");

    [Fact]
    public void AFolderWithoutCondaMeta_IsNotAnEnvironment_AndTheNextPlaceCounts()
    {
        Directory.CreateDirectory(Under("first/analytics"));
        var prefix = Environment("micromamba/envs/analytics");
        _variables["CONDA_ENVS_PATH"] = Under("first");

        AssertFound(prefix, () => _variables["MAMBA_ROOT_PREFIX"] = Under("micromamba"));
    }

    [Fact]
    public void NowhereToBeFound_IsNull_AndEveryPlaceLookedIn_IsNamed()
    {
        _variables["MAMBA_ROOT_PREFIX"] = Under("micromamba");

        Assert.Null(CondaEnvLocator.Find("analytics", _variables.GetValueOrDefault, Home, null));
        Assert.Contains(Under("micromamba/envs/analytics"), CondaEnvLocator.Candidates("analytics", _variables.GetValueOrDefault, Home, null).Select(c => c.Prefix));
    }

    private void AssertFound(string prefix, Action? arrange = null, string name = "analytics")
    {
        arrange?.Invoke();

        Assert.Equal(prefix, CondaEnvLocator.Find(name, _variables.GetValueOrDefault, Home, null));
    }

    /// <summary>A conda environment as conda leaves one: a prefix with conda-meta and a Python.</summary>
    private string Environment(string relative)
    {
        var prefix = Under(relative);
        Directory.CreateDirectory(Path.Combine(prefix, "conda-meta"));
        Directory.CreateDirectory(Path.Combine(prefix, "bin"));
        File.WriteAllText(Path.Combine(prefix, "bin", "python"), "");
        return prefix;
    }

    private string Under(string relative) => Path.Combine(_root.FullName, relative);
}
