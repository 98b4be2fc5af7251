namespace Terrarium.Packaging.Fields;

/// <summary><c>pip</c>: a <c>requirements.txt</c> is read into the packages at every submission, so that its content is part of the env.</summary>
internal sealed class PipPackager : IFieldPackager
{
    public bool NamesFiles(RuntimeEnv env) => env.Pip?.RequirementsFile is not null;

    public bool NamesEditableFiles(RuntimeEnv env) => NamesFiles(env);

    public RuntimeEnv Package(RuntimeEnv env, LocalFiles files) => env with
    {
        Pip = env.Pip! with { Packages = [.. PythonSpecFiles.ReadRequirements(env.Pip.RequirementsFile!, files.ParamName), .. env.Pip.Packages], RequirementsFile = null },
    };
}
