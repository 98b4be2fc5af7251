using System.Text.Json;

namespace Terrarium.Node.Internal.RuntimeEnvs;

/// <summary>
/// A Python environment on this node (a venv or a conda prefix) and what a worker needs to run in
/// it: its <c>bin</c> first on PATH, its interpreter for <c>RuntimeContext</c>, and for
/// in-process Python through pythonnet the interpreter's shared library and its packages.
/// </summary>
internal sealed record PythonEnvironment(string Prefix, string? Interpreter, string? SharedLibrary, string? Packages)
{
    /// <summary>The variable that tells <c>RuntimeContext.PythonExecutable</c> the interpreter.</summary>
    public const string InterpreterVariable = "TERRARIUM_PYTHON";

    /// <summary>Where the interpreter of a prefix is, if it has one.</summary>
    public static string? InterpreterOf(string prefix) => Path.Combine(prefix, "bin", "python") is var path && File.Exists(path) ? path : null;

    /// <summary>
    /// Asks the prefix's interpreter for its shared library (<c>libpython3.x.so</c>, when it was built
    /// with one) and its packages folder; a prefix without Python gets neither.
    /// </summary>
    public static async Task<PythonEnvironment> DescribeAsync(string prefix, string field, CancellationToken ct)
    {
        if (InterpreterOf(prefix) is not { } python)
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
        var (exitCode, output, errors) = await CommandRunner.RunAsync(python, ["-c", script], ct).ConfigureAwait(false);
        if (exitCode != 0)
        {
            throw new RuntimeEnvSetupFailure(field, $"the environment's Python ({python}) does not run: {errors.Split('\n').LastOrDefault()}", errors);
        }

        using var facts = JsonDocument.Parse(output.Split('\n').Last());
        return new PythonEnvironment(prefix, python, facts.RootElement.GetProperty("lib").GetString(), facts.RootElement.GetProperty("packages").GetString());
    }

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
