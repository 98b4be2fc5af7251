using Terrarium.Packaging.Fields;
using Terrarium.Protocol.RuntimeEnvs;

namespace Terrarium.Packaging;

/// <summary>
/// Replaces the local files an env names with what every node can fetch, before the env is
/// hashed: each field that can name local files has its <see cref="IFieldPackager"/>.
/// </summary>
internal sealed class EnvPackager(DirectoryPackager packager, PackageUploader uploader)
{
    /// <summary>The packagers of the fields that name local files; <c>excludes</c> last, as the others read it.</summary>
    private static readonly IFieldPackager[] s_fields =
        [new WorkingDirPackager(), new ModulesPackager(), new NuGetPackager(), new PipPackager(), new CondaPackager(), new ExcludesPackager()];

    /// <summary>Whether the env names local code or files that users edit between submissions, which must be packaged again at every submission.</summary>
    public static bool HasEditableLocalPaths(RuntimeEnv env) => s_fields.Any(f => f.NamesEditableFiles(env));

    /// <summary>
    /// <paramref name="env"/> as nodes receive it, checked again: what a file brought into it (a
    /// requirements file's lines) is refused as it would be if written in the env itself.
    /// </summary>
    /// <exception cref="ArgumentException">A path is missing or unreadable, a URI is not a zip, a package is too large, or what a file brought is refused.</exception>
    public RuntimeEnv Resolve(RuntimeEnv env, string paramName)
    {
        var fields = s_fields.Where(f => f.NamesFiles(env)).ToList();
        if (fields.Count == 0)
        {
            return env;
        }

        var files = new LocalFiles(packager, uploader, env.Excludes ?? [], paramName);
        var packaged = fields.Aggregate(env, (partly, field) => field.Package(partly, files));
        RuntimeEnvValidator.Validate(packaged, paramName);
        return packaged;
    }
}
