using System.Diagnostics;
using Python.Runtime;

namespace Terrarium.IntegrationTests;

/// <summary>A cluster whose node caches venvs in a fresh folder, and wheels of two versions of one package.</summary>
public sealed class PythonEnvFixture : IAsyncLifetime
{
    public const string Package = "terrariumdemo";
    public const string VenvOnlyPackage = "terrariumvenvonly";
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("terrarium-python-");

    public Cluster Cluster { get; private set; } = null!;

    public string Root => _root.FullName;

    public string Wheels => Path.Combine(Root, "wheels");

    public string Cache => Path.Combine(Root, "cache");

    public async Task InitializeAsync()
    {
        PythonWheels.Build(Wheels, Package, "1.0");
        PythonWheels.Build(Wheels, Package, "2.0");
        PythonWheels.Build(Wheels, VenvOnlyPackage, "7.0");
        Cluster = await Cluster.InitAsync(new ClusterOptions
        {
            NumCpus = 2,
            LogToDriver = false,
            CacheDirectory = Cache,
            // Containers here see the test's wheels through an env's --volume: this node's operator allows it.
            Containers = new Terrarium.Node.ContainerRuntimeOptions { AllowedRunOptions = ["--volume"] },
        }).DefaultTimeout();
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        _root.Delete(recursive: true);
    }

    /// <summary>An env with these requirements, installed from the local wheels only.</summary>
    public RuntimeEnv Pip(params string[] packages) =>
        new() { Pip = new PipSpec { Packages = packages, InstallOptions = ["--no-index", "--find-links", Wheels] } };
}

public sealed class PythonEnvTests(PythonEnvFixture fixture) : IClassFixture<PythonEnvFixture>
{
    private Cluster Cluster => fixture.Cluster;

    private static TaskOptions In(RuntimeEnv env) => new() { RuntimeEnv = env };

    [SkippableFact]
    public async Task TwoTasksAtOnce_SeeTwoVersionsOfOnePackage()
    {
        PythonWheels.RequireVenv();

        var one = Cluster.Submit(() => PythonTasks.ImportVersion(PythonEnvFixture.Package), In(fixture.Pip("terrariumdemo==1.0")));
        var two = Cluster.Submit(() => PythonTasks.ImportVersion(PythonEnvFixture.Package), In(fixture.Pip("terrariumdemo==2.0")));

        Assert.Equal(["1.0", "2.0"], await Cluster.GetAsync([one, two]).DefaultTimeout());
    }

    [SkippableFact]
    public async Task WorkersPython_IsTheVenvs_AndTheDriversIsNot()
    {
        PythonWheels.RequireVenv();

        var (executable, prefix, virtualEnv) = await Cluster.Submit(() => PythonTasks.WhichPython(), In(fixture.Pip("terrariumdemo==1.0"))).DefaultTimeout();

        Assert.StartsWith(Path.Combine(fixture.Cache, "pip") + "/", executable, StringComparison.Ordinal);
        Assert.Equal(Path.GetDirectoryName(Path.GetDirectoryName(executable)), prefix);
        Assert.Equal(prefix, virtualEnv);
        Assert.Null(RuntimeContext.Current.PythonExecutable);
        Assert.NotEqual(prefix, PythonTasks.WhichPython().Prefix);
    }

    [SkippableFact]
    public async Task RequirementsFile_IsReadAtSubmission_SoItsContentIsTheEnv()
    {
        PythonWheels.RequireVenv();
        var file = Path.Combine(fixture.Root, "requirements.txt");
        var env = new RuntimeEnv { Pip = new PipSpec { RequirementsFile = file, InstallOptions = ["--no-index", "--find-links", fixture.Wheels] } };

        await File.WriteAllTextAsync(file, "# the old one\nterrariumdemo==1.0\n");
        var first = await Cluster.Submit(() => PythonTasks.ImportVersion(PythonEnvFixture.Package), In(env)).DefaultTimeout();
        await File.WriteAllTextAsync(file, "terrariumdemo==2.0  # the new one\n");
        var second = await Cluster.Submit(() => PythonTasks.ImportVersion(PythonEnvFixture.Package), In(env)).DefaultTimeout();

        Assert.Equal(("1.0", "2.0"), (first, second));
    }

    [SkippableFact]
    public async Task RayStyleJson_WithPipCheck_Works()
    {
        PythonWheels.RequireVenv();
        var env = RuntimeEnv.FromJson($$$"""
            {"pip": {"packages": ["terrariumdemo==2.0"], "pip_install_options": ["--no-index", "--find-links", "{{{fixture.Wheels}}}"], "pip_check": true}}
            """);

        Assert.Equal("2.0", await Cluster.Submit(() => PythonTasks.ImportVersion(PythonEnvFixture.Package), In(env)).DefaultTimeout());
    }

    [SkippableFact]
    public async Task UnknownPackage_FailsWithPipsMessage_LeavesNoVenv_AndTheNextTasksRun()
    {
        PythonWheels.RequireVenv();

        var error = await Assert.ThrowsAsync<RuntimeEnvSetupException>(() =>
            Cluster.Submit(() => PythonTasks.ImportVersion(PythonEnvFixture.Package), In(fixture.Pip("no-such-package-anywhere"))).DefaultTimeout());

        Assert.Equal("pip", error.Field);
        Assert.Contains("no-such-package-anywhere", error.Message, StringComparison.Ordinal);
        Assert.Contains("ERROR: ", error.Message, StringComparison.Ordinal);
        Assert.All(Directory.GetDirectories(Path.Combine(fixture.Cache, "pip")), venv => Assert.True(File.Exists(Path.Combine(venv, ".terrarium-ready")), $"{venv} is half built"));
        Assert.Equal(7, await Cluster.Submit(() => TestTasks.Add(3, 4)).DefaultTimeout());
        Assert.Equal("2.0", await Cluster.Submit(() => PythonTasks.ImportVersion(PythonEnvFixture.Package), In(fixture.Pip("terrariumdemo==2.0"))).DefaultTimeout());
    }

    [SkippableFact]
    public async Task SameSpec_InAnotherEnv_ReusesTheVenv()
    {
        PythonWheels.RequireVenv();
        var env = fixture.Pip("terrariumdemo==1.0", "terrariumvenvonly");
        var other = env with { EnvVars = new Dictionary<string, string> { ["ANOTHER"] = "env" } };

        var first = await Cluster.Submit(() => PythonTasks.WhichPython(), In(env)).DefaultTimeout();
        var built = File.GetLastWriteTimeUtc(Path.Combine(first.Prefix, ".terrarium-ready"));
        var second = await Cluster.Submit(() => PythonTasks.WhichPython(), In(other)).DefaultTimeout();

        Assert.Equal(first.Executable, second.Executable);
        Assert.Equal(built, File.GetLastWriteTimeUtc(Path.Combine(second.Prefix, ".terrarium-ready")));
    }

    [SkippableFact]
    public async Task Pythonnet_InATask_ImportsAVenvOnlyPackage()
    {
        PythonWheels.RequireSharedLibPython();

        var version = await Cluster.Submit(() => PythonTasks.ImportInProcess(PythonEnvFixture.VenvOnlyPackage), In(fixture.Pip("terrariumvenvonly==7.0"))).DefaultTimeout();

        Assert.Equal("7.0", version);
    }

    [SkippableFact]
    public async Task EnvVars_ReachPipWhileItBuilds_AsAPrivateIndexsSettingsWould()
    {
        PythonWheels.RequireVenv();
        // No install options: only the env's PIP_* variables tell pip where the wheels are (PyPI is out of reach).
        var env = new RuntimeEnv
        {
            Pip = new PipSpec { Packages = ["terrariumvenvonly>=7.0"] },
            EnvVars = new Dictionary<string, string> { ["PIP_NO_INDEX"] = "1", ["PIP_FIND_LINKS"] = fixture.Wheels },
        };

        Assert.Equal("7.0", await Cluster.Submit(() => PythonTasks.ImportVersion(PythonEnvFixture.VenvOnlyPackage), In(env)).DefaultTimeout());
    }

    [SkippableFact]
    public async Task Pip_InAContainer_InstallsWithTheImagesPython()
    {
        PodmanImages.Require();
        var image = await PodmanImages.WithPythonAsync();
        var env = fixture.Pip("terrariumdemo==2.0") with
        {
            // The wheels are on the node: the env's run options make them visible in the container.
            Container = new ContainerSpec { Image = image, RunOptions = [$"--volume={fixture.Wheels}:{fixture.Wheels}:ro"] },
        };

        var seen = await Cluster.Submit(() => PythonTasks.ImportVersionAndWhere(PythonEnvFixture.Package), In(env)).DefaultTimeout();

        Assert.Equal($"2.0|/usr|{image}|container", seen);
    }

    [SkippableFact]
    public async Task PipEnv_BuiltByAnotherPythonOfTheNode_IsAVenvOfItsOwn()
    {
        PythonWheels.RequireVenv();
        // Another interpreter of the node: a copy of python3 (a venv made with --copies), as after an upgrade.
        var other = Path.Combine(fixture.Root, "other-python");
        using (var copy = Process.Start(new ProcessStartInfo("python3", ["-m", "venv", "--copies", "--without-pip", other]))!)
        {
            await copy.WaitForExitAsync();
        }

        var spec = fixture.Pip("terrariumdemo==1.0");
        var first = await Cluster.Submit(() => PythonTasks.WhichPython(), In(spec)).DefaultTimeout();
        await using var upgraded = await Terrarium.Cluster.InitAsync(new ClusterOptions
        {
            NumCpus = 1,
            LogToDriver = false,
            CacheDirectory = fixture.Cache,
            Python = new Terrarium.Node.PythonOptions { Interpreter = Path.Combine(other, "bin", "python3") },
        }).DefaultTimeout();
        var second = await upgraded.Submit(() => PythonTasks.WhichPython(), In(spec)).DefaultTimeout();

        Assert.NotEqual(first.Prefix, second.Prefix);
        Assert.Equal("1.0", await upgraded.Submit(() => PythonTasks.ImportVersion(PythonEnvFixture.Package), In(spec)).DefaultTimeout());
    }

    [SkippableFact]
    public async Task PipList_InAnotherOrderOrWithADuplicate_IsTheSameEnvAndVenv()
    {
        PythonWheels.RequireVenv();

        var one = await Cluster.Submit(() => PythonTasks.WhichPython(), In(fixture.Pip("terrariumdemo==2.0", PythonEnvFixture.VenvOnlyPackage))).DefaultTimeout();
        var other = await Cluster.Submit(() => PythonTasks.WhichPython(),
            In(fixture.Pip(PythonEnvFixture.VenvOnlyPackage, "terrariumdemo==2.0", PythonEnvFixture.VenvOnlyPackage))).DefaultTimeout();

        Assert.Equal(one.Prefix, other.Prefix);
        Assert.Equal(fixture.Pip("terrariumdemo==2.0", PythonEnvFixture.VenvOnlyPackage).ToJson(),
            fixture.Pip(PythonEnvFixture.VenvOnlyPackage, "terrariumdemo==2.0", PythonEnvFixture.VenvOnlyPackage).ToJson());
    }

    [SkippableFact]
    public async Task CondaPrefix_IsActivated_WithoutAnyCondaTool()
    {
        PythonWheels.RequireVenv();
        // A prefix as conda leaves one: a Python, and a conda-meta folder.
        var prefix = Path.Combine(fixture.Root, "conda-env");
        await PodmanImages.RunAsync("python3", "-m", "venv", prefix);
        Directory.CreateDirectory(Path.Combine(prefix, "conda-meta"));

        var seen = await Cluster.Submit(() => PythonTasks.CondaActivation(), In(new RuntimeEnv { Conda = new CondaSpec { Environment = prefix } })).DefaultTimeout();

        Assert.Equal($"{prefix}|{prefix}|{prefix}/bin|{prefix}/bin/python", seen);
    }

    [SkippableFact]
    public async Task CondaPrefix_InsideAContainer_IsTheImagesEnvironment()
    {
        PodmanImages.Require();
        var image = await PodmanImages.WithCondaPrefixAsync();
        const string prefix = PodmanImages.CondaPrefix;
        var inImage = new RuntimeEnv { Container = new ContainerSpec { Image = image }, Conda = new CondaSpec { Environment = prefix } };

        var seen = await Cluster.Submit(() => PythonTasks.CondaActivation(), In(inImage)).DefaultTimeout();
        var missing = await Assert.ThrowsAsync<RuntimeEnvSetupException>(() =>
            Cluster.Submit(() => PythonTasks.CondaActivation(), In(inImage with { Conda = new CondaSpec { Environment = "/opt/nothing" } })).DefaultTimeout());

        Assert.Equal($"{prefix}|{prefix}|{prefix}/bin|{prefix}/bin/python", seen);
        Assert.Contains($"'/opt/nothing' is not a conda environment in image '{image}'", missing.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task CondaPrefix_ThatIsNotAnEnvironment_FailsSayingSo()
    {
        var error = await Assert.ThrowsAsync<RuntimeEnvSetupException>(() =>
            Cluster.Submit(() => PythonTasks.CondaActivation(), In(new RuntimeEnv { Conda = new CondaSpec { Environment = fixture.Root } })).DefaultTimeout());

        Assert.Contains("is not a conda environment", error.Message, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData("""{"conda": {"dependencies": ["python=3.11"]}}""", "has no conda tool to create a conda environment from a spec: install micromamba, mamba or conda on it")]
    [InlineData("""{"conda": "nowhere-to-be-found"}""", "and the node has no conda tool (micromamba, mamba or conda) to ask; give the environment's prefix path, or name a tool")]
    public async Task CondaByNameOrSpec_WithNoCondaToolOnTheNode_SaysWhatToInstall(string json, string expected)
    {
        Skip.If(new[] { "micromamba", "mamba", "conda" }.Any(t => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, t)))),
            "this machine has a conda tool");
        var error = await Assert.ThrowsAsync<RuntimeEnvSetupException>(() =>
            Cluster.Submit(() => PythonTasks.CondaActivation(), In(RuntimeEnv.FromJson(json))).DefaultTimeout());

        Assert.Equal("conda", error.Field);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Equal(7, await Cluster.Submit(() => TestTasks.Add(3, 4)).DefaultTimeout());
    }

    [Fact]
    public void PipWithConda_IsRefusedAtSubmission()
    {
        var env = new RuntimeEnv { Pip = ["requests"], Conda = new CondaSpec { Environment = "analytics" } };

        var error = Assert.Throws<ArgumentException>(() => Cluster.Submit(() => TestTasks.Add(1, 2), In(env)));

        Assert.Contains("has both 'pip' and 'conda'", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void RequirementsFile_ThatIsMissing_IsRefusedAtSubmission()
    {
        var env = new RuntimeEnv { Pip = new PipSpec { RequirementsFile = Path.Combine(fixture.Root, "missing.txt") } };

        var error = Assert.Throws<ArgumentException>(() => Cluster.Submit(() => TestTasks.Add(1, 2), In(env)));

        Assert.Contains("pip.requirements_file", error.Message, StringComparison.Ordinal);
        Assert.Contains("missing.txt", error.Message, StringComparison.Ordinal);
    }
}

public static class PythonTasks
{
    /// <summary>Runs <c>python</c> from PATH, as a task's subprocess would, and imports the package.</summary>
    public static string ImportVersion(string package) =>
        Run("python", "-c", $"import {package}; print({package}.VERSION)");

    /// <summary>The package's version, the base prefix of the venv's Python (the image's own, /usr), and where this runs.</summary>
    public static string ImportVersionAndWhere(string package) =>
        $"{ImportVersion(package)}|{Run("python", "-c", "import sys; print(sys.base_prefix)")}|{ContainerEnvTasks.Where()}";

    public static (string Executable, string Prefix, string? VirtualEnv) WhichPython() => (
        RuntimeContext.Current.PythonExecutable ?? "",
        Run("python3", "-c", "import sys; print(sys.prefix)"),
        Environment.GetEnvironmentVariable("VIRTUAL_ENV"));

    public static string CondaActivation() => string.Join('|',
        Environment.GetEnvironmentVariable("CONDA_PREFIX"),
        Environment.GetEnvironmentVariable("CONDA_DEFAULT_ENV"),
        Environment.GetEnvironmentVariable("PATH")!.Split(':')[0],
        RuntimeContext.Current.PythonExecutable);

    /// <summary>In-process Python through pythonnet, with the library and packages the node set for this env.</summary>
    public static string ImportInProcess(string package)
    {
        if (!PythonEngine.IsInitialized)
        {
            PythonEngine.Initialize();
            PythonEngine.BeginAllowThreads();
        }

        using (Py.GIL())
        {
            return Py.Import(package).GetAttr("VERSION").As<string>();
        }
    }

    private static string Run(string command, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(command, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = process.StandardOutput.ReadToEnd();
        var errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? output.Trim() : throw new InvalidOperationException($"{command} failed: {errors}");
    }
}
