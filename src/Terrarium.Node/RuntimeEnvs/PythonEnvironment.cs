using System.Text.Json;

namespace Terrarium.Node.RuntimeEnvs;

/// <summary>
/// A Python environment on this node (a venv or a conda prefix) and what a worker needs to run in
/// it: its <c>bin</c> first on PATH, its interpreter for <c>RuntimeContext</c>, and for
/// in-process Python through pythonnet the interpreter's shared library and its packages.
/// </summary>
internal sealed record PythonEnvironment(string Prefix, string? Interpreter, string? SharedLibrary, string? Packages)
{
    /// <summary>The variable that tells <c>RuntimeContext.PythonExecutable</c> the interpreter.</summary>
    public const string InterpreterVariable = "TERRARIUM_PYTHON";

    /// <summary>Runs a command where the environment's Python runs: on the node, or in the env's container.</summary>
    public delegate Task<(int ExitCode, string Output, string Errors)> Runner(IReadOnlyList<string> command, CancellationToken ct);

    /// <summary>
    /// On the node itself, in <paramref name="workingDirectory"/>: a folder of the node's own, never
    /// the daemon's working directory, where anyone may have left a module for Python to import.
    /// <paramref name="environment"/> is added to the node's variables (the env's <c>env_vars</c>).
    /// </summary>
    public static Runner OnNode(string workingDirectory, IReadOnlyDictionary<string, string>? environment = null) => (command, ct) =>
    {
        var start = new System.Diagnostics.ProcessStartInfo(command[0], command.Skip(1)) { WorkingDirectory = workingDirectory };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        return CommandRunner.RunAsync(start, ct);
    };

    /// <summary>
    /// Where the interpreter of a prefix is, if it has one. A venv's is a link to the Python that made
    /// it, which may exist only in the container that made it.
    /// </summary>
    public static string? InterpreterOf(string prefix) =>
        new FileInfo(Path.Combine(prefix, "bin", "python")) is var python && (python.Exists || python.LinkTarget is not null) ? python.FullName : null;

    /// <summary>
    /// Asks the prefix's interpreter for its shared library (<c>libpython3.x.so</c>, when it was built
    /// with one) and its packages folder; a prefix without Python gets neither. With
    /// <paramref name="inImage"/> the prefix is inside the env's image, where only <paramref name="run"/> sees it.
    /// </summary>
    public static async Task<PythonEnvironment> DescribeAsync(string prefix, string field, Runner run, CancellationToken ct, bool inImage = false)
    {
        var python = inImage
            ? await ExistsAsync(run, Path.Combine(prefix, "bin", "python"), ct).ConfigureAwait(false) ? Path.Combine(prefix, "bin", "python") : null
            : InterpreterOf(prefix);
        if (python is null)
        {
            return new PythonEnvironment(prefix, null, null, null);
        }

        const string script = """
            import json, os, sysconfig
            lib = None
            if sysconfig.get_config_var("Py_ENABLE_SHARED"):
                for name in (sysconfig.get_config_var("INSTSONAME"), sysconfig.get_config_var("LDLIBRARY")):
                    path = os.path.join(sysconfig.get_config_var("LIBDIR") or "", name or "")
                    if name and os.path.exists(path):
                        lib = path
                        break
            print(json.dumps({"lib": lib, "packages": sysconfig.get_paths()["purelib"]}))
            """;
        // Isolated (-I): no PYTHON* variables, no user site, nothing imported from the working directory.
        var (exitCode, output, errors) = await run([python, "-I", "-c", script], ct).ConfigureAwait(false);
        if (exitCode != 0)
        {
            throw new RuntimeEnvSetupFailure(field, $"the environment's Python ({python}) does not run: {errors.Split('\n').LastOrDefault()}", errors);
        }

        using var facts = JsonDocument.Parse(output.Split('\n').Last());
        return new PythonEnvironment(prefix, python, facts.RootElement.GetProperty("lib").GetString(), facts.RootElement.GetProperty("packages").GetString());
    }

    /// <summary>Whether <paramref name="path"/> exists where <paramref name="run"/> runs (<c>test -e</c>).</summary>
    public static async Task<bool> ExistsAsync(Runner run, string path, CancellationToken ct) =>
        (await run(["test", "-e", path], ct).ConfigureAwait(false)).ExitCode == 0;

    /// <summary>What the worker gets, plus <paramref name="variables"/> of the kind of environment (VIRTUAL_ENV, CONDA_PREFIX).</summary>
    public FieldSetup Setup(IReadOnlyDictionary<string, string> variables)
    {
        var all = new Dictionary<string, string>(variables, StringComparer.Ordinal);
        if (Interpreter is not null)
        {
            all[InterpreterVariable] = Interpreter;
        }

        if (SharedLibrary is not null && Packages is not null)
        {
            // pythonnet loads this library, and the embedded interpreter then sees the env's packages.
            all["PYTHONNET_PYDLL"] = SharedLibrary;
            all["PYTHONPATH"] = Packages;
        }

        return new FieldSetup { EnvVars = all, PathEntries = [Path.Combine(Prefix, "bin")] };
    }
}
