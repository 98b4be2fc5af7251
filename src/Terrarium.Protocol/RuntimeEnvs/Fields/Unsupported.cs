namespace Terrarium.Internal.RuntimeEnvFields;

/// <summary>Fields the model reads (so that Ray's specs parse) but no node can prepare yet: refused at submission, not ignored.</summary>
internal static class Unsupported
{
    public static ArgumentException Field(string name, string paramName) => new(
        $"runtime_env field '{name}' is not supported yet by this version of Terrarium; " +
        "'working_dir', 'modules', 'excludes', 'nuget', 'container', 'env_vars' and 'config' take effect",
        paramName);
}
