namespace Terrarium.Packaging.Fields;

/// <summary><c>working_dir</c>: a local folder or zip shipped as a package; a URI of a zip checked.</summary>
internal sealed class WorkingDirPackager : IFieldPackager
{
    private const string Field = "working_dir";

    public bool NamesFiles(RuntimeEnv env) => env.WorkingDir is not null;

    public bool NamesEditableFiles(RuntimeEnv env) => env.WorkingDir is { } dir && LocalFiles.IsLocal(dir);

    public RuntimeEnv Package(RuntimeEnv env, LocalFiles files) => env with { WorkingDir = Ship(env.WorkingDir!, files) };

    private static string Ship(string value, LocalFiles files)
    {
        if (!LocalFiles.IsLocal(value))
        {
            return files.CheckUri(value, Field, [".zip"]);
        }

        var path = Path.GetFullPath(value);
        if (Directory.Exists(path))
        {
            return files.ShipDirectory(path, Field);
        }

        if (File.Exists(path) && path.EndsWith(".zip", StringComparison.OrdinalIgnoreCase))
        {
            return files.ShipZip(path, Field);
        }

        throw new ArgumentException($"working_dir '{value}' does not exist or is neither a directory nor a .zip (resolved to {path})", files.ParamName);
    }
}
