using System.Diagnostics;
using System.IO.Compression;
using Python.Runtime;
using Terrarium;

// A pip env: the node makes a venv for the requirements, installs them, and starts the task's worker
// in it. The requirement here is a wheel made from the folder next to this program (a wheel is a zip
// of the package and its .dist-info), so the sample runs without a package index; with one, write
// requirements as usual: Pip = ["requests==2.32.3"]. Needs python3 with venv on the machine.
var wheels = Path.Combine(AppContext.BaseDirectory, "wheels");   // the same every run: the same env, so the same venv
var wheel = Path.Combine(wheels, "greeter-1.0-py3-none-any.whl");
Directory.CreateDirectory(wheels);
File.Delete(wheel);
ZipFile.CreateFromDirectory("greeter-wheel", wheel);

await using var cluster = await Cluster.InitAsync();
var python = new RuntimeEnv
{
    Pip = new PipSpec { Packages = ["greeter==1.0"], InstallOptions = ["--no-index", "--find-links", wheels] },
};

// The venv's own python, started by the task.
Console.WriteLine(await cluster.Submit(() => Greet.WithVenvPython(), new TaskOptions { RuntimeEnv = python }));

// Python inside the task's process, through pythonnet: the node points it at the venv's interpreter.
Console.WriteLine(await cluster.Submit(() => Greet.InProcess(), new TaskOptions { RuntimeEnv = python }));

// Without the env, the package is not there.
Console.WriteLine(await cluster.Submit(() => Greet.WithoutTheEnv()));

public static class Greet
{
    public static string WithVenvPython() =>
        Run(RuntimeContext.Current.PythonExecutable!, "-c", "import greeter; print(greeter.hello('python process'))");

    public static string InProcess()
    {
        if (!PythonEngine.IsInitialized)
        {
            PythonEngine.Initialize();
            PythonEngine.BeginAllowThreads();
        }

        using (Py.GIL())
        {
            return Py.Import("greeter").InvokeMethod("hello", new PyString("pythonnet")).As<string>();
        }
    }

    public static string WithoutTheEnv() =>
        $"without the env: python is {RuntimeContext.Current.PythonExecutable ?? "(none)"}; " +
        Run("python3", "-c", "import importlib.util; print('greeter installed' if importlib.util.find_spec('greeter') else 'no greeter')");

    private static string Run(string command, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(command, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = process.StandardOutput.ReadToEnd();
        var errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? output.Trim() : throw new InvalidOperationException($"{command} failed: {errors}");
    }
}
