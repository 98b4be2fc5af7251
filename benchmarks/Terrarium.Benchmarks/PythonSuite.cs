using System.Diagnostics;
using System.IO.Compression;
using System.Text;

namespace Terrarium.Benchmarks;

/// <summary>What a <c>pip</c> env costs: its first result with a new venv, with a cached one, and a plain new env's.</summary>
public static class PythonSuite
{
    public static async Task RunAsync(Harness harness)
    {
        var root = Directory.CreateTempSubdirectory("terrarium-bench-python-");
        try
        {
            var wheels = Path.Combine(root.FullName, "wheels");
            WriteWheel(wheels, "benchone", "1.0");
            WriteWheel(wheels, "benchtwo", "1.0");
            await using var cluster = await Cluster.InitAsync(new ClusterOptions { LogToDriver = false, CacheDirectory = Path.Combine(root.FullName, "cache") });
            await cluster.Submit(() => BenchTasks.Noop());
            var pip = new PipSpec { Packages = ["benchone", "benchtwo"], InstallOptions = ["--no-index", "--find-links", wheels] };

            Task<double> FirstResultAsync(RuntimeEnv env) => TimeAsync(() => cluster.Submit(() => BenchTasks.Noop(), new TaskOptions { RuntimeEnv = env }));
            RuntimeEnv Marked(string marker, PipSpec? withPip = null) => new() { Pip = withPip, EnvVars = new Dictionary<string, string> { ["M"] = marker } };

            Record(harness, "plain_env_first_result", await FirstResultAsync(Marked("plain")), "a new env_vars-only env: a worker (pre-started if one is ready) and the task");
            Record(harness, "pip_first_result_new_venv", await FirstResultAsync(Marked("new", pip)), "a new pip env of 2 local wheels: python3 -m venv, pip install, a worker, the task");
            Record(harness, "pip_first_result_cached_venv", await FirstResultAsync(Marked("cached", pip)), "the same pip spec in a new env: the venv is reused, a worker starts");
        }
        catch (Exception e) when (e is RuntimeEnvSetupException)
        {
            Console.Error.WriteLine($"  skipped: this machine cannot build venvs ({e.Message})");
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    private static async Task<double> TimeAsync(Func<ObjectRef<int>> submit)
    {
        var watch = Stopwatch.StartNew();
        await submit();
        return watch.Elapsed.TotalMilliseconds;
    }

    private static void Record(Harness harness, string name, double milliseconds, string description)
    {
        harness.Results.Add(new Measurement(name, milliseconds, 0, "ms", description));
        Console.Error.WriteLine($"  {name}: {milliseconds:N1} ms");
    }

    /// <summary>A pure-Python wheel: the module, and METADATA, WHEEL and RECORD in its .dist-info.</summary>
    private static void WriteWheel(string folder, string name, string version)
    {
        Directory.CreateDirectory(folder);
        var info = $"{name}-{version}.dist-info";
        string[] files = [$"{name}/__init__.py", $"{info}/METADATA", $"{info}/WHEEL", $"{info}/RECORD"];
        string[] contents =
        [
            $"VERSION = \"{version}\"\n",
            $"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
            "Wheel-Version: 1.0\nGenerator: terrarium-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
            string.Concat(files.Select(f => $"{f},,\n")),
        ];
        using var zip = ZipFile.Open(Path.Combine(folder, $"{name}-{version}-py3-none-any.whl"), ZipArchiveMode.Create);
        for (var i = 0; i < files.Length; i++)
        {
            using var entry = zip.CreateEntry(files[i]).Open();
            entry.Write(Encoding.UTF8.GetBytes(contents[i]));
        }
    }
}
