using System.IO.Compression;
using System.Text;

namespace Terrarium.IntegrationTests;

/// <summary>
/// Wheels built here, since no package index is reachable: a wheel is a zip of the package's files
/// and a <c>.dist-info</c> folder with METADATA, WHEEL and RECORD. Installed with <c>--no-index --find-links</c>.
/// </summary>
public static class PythonWheels
{
    /// <summary>A pure-Python package whose module has <c>VERSION = "<paramref name="version"/>"</c>.</summary>
    public static void Build(string folder, string name, string version)
    {
        Directory.CreateDirectory(folder);
        var info = $"{name}-{version}.dist-info";
        var files = new Dictionary<string, string>
        {
            [$"{name}/__init__.py"] = $"VERSION = \"{version}\"\n",
            [$"{info}/METADATA"] = $"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
            [$"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: terrarium-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        };
        files[$"{info}/RECORD"] = string.Concat(files.Keys.Select(f => $"{f},,\n")) + $"{info}/RECORD,,\n";
        using var zip = ZipFile.Open(Path.Combine(folder, $"{name}-{version}-py3-none-any.whl"), ZipArchiveMode.Create);
        foreach (var (path, content) in files)
        {
            using var entry = zip.CreateEntry(path).Open();
            entry.Write(Encoding.UTF8.GetBytes(content));
        }
    }

    private static readonly Lazy<bool> s_venvWorks = new(() => Probe("import venv, tempfile, os; d = tempfile.mkdtemp(); venv.create(d, with_pip=True); assert os.path.exists(os.path.join(d, 'bin', 'pip'))"));

    private static readonly Lazy<bool> s_sharedLibrary = new(() => Probe(
        "import os, sysconfig; v = sysconfig.get_config_var; assert v('Py_ENABLE_SHARED') and os.path.exists(os.path.join(v('LIBDIR'), v('INSTSONAME')))"));

    /// <summary>Skips (or fails under TERRARIUM_REQUIRE_ALL=1) where <c>python3 -m venv</c> cannot make a venv with pip.</summary>
    public static void RequireVenv()
    {
        Requirements.Tool("python3", "pip envs create virtual environments with it (apt-get install python3 python3-venv)");
        Requirements.That(s_venvWorks.Value, "python3 cannot create a virtual environment with pip (apt-get install python3-venv)");
    }

    /// <summary>pythonnet loads the interpreter's shared library, which Debian ships as libpython3.x.</summary>
    public static void RequireSharedLibPython()
    {
        RequireVenv();
        Requirements.That(s_sharedLibrary.Value, "python3's shared library is not installed, which pythonnet loads (apt-get install libpython3.11)");
    }

    private static bool Probe(string script)
    {
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("python3", ["-c", script]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        process.WaitForExit();
        return process.ExitCode == 0;
    }
}
