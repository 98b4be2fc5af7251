namespace Terrarium.Packaging.Fields;

/// <summary><c>excludes</c>: spent here, since the packages of the other fields already leave those files out.</summary>
internal sealed class ExcludesPackager : IFieldPackager
{
    public bool NamesFiles(RuntimeEnv env) => env.Excludes is not null;

    // Changing what is excluded changes the packages.
    public bool NamesEditableFiles(RuntimeEnv env) => NamesFiles(env);

    public RuntimeEnv Package(RuntimeEnv env, LocalFiles files) => env with { Excludes = null };
}
