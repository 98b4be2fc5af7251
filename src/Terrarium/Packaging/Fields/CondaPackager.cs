namespace Terrarium.Packaging.Fields;

/// <summary><c>conda</c>: an <c>environment.yml</c> is read into the spec at every submission, so that its content is part of the env.</summary>
internal sealed class CondaPackager : IFieldPackager
{
    public bool NamesFiles(RuntimeEnv env) => env.Conda is { Environment: { } name } && PythonSpecFiles.IsEnvironmentFile(name);

    public bool NamesEditableFiles(RuntimeEnv env) => NamesFiles(env);

    public RuntimeEnv Package(RuntimeEnv env, LocalFiles files) =>
        env with { Conda = new CondaSpec { SpecJson = PythonSpecFiles.ReadEnvironmentFile(env.Conda!.Environment!, files.ParamName) } };
}
