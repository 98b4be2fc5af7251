namespace Terrarium.Packaging.Fields;

/// <summary><c>modules</c>: local folders, .dll and .nupkg files shipped as packages; URIs of zips and .nupkg files checked.</summary>
internal sealed class ModulesPackager : IFieldPackager
{
    private const string Field = "modules";

    public bool NamesFiles(RuntimeEnv env) => env.Modules is not null;

    public bool NamesEditableFiles(RuntimeEnv env) => env.Modules?.Any(LocalFiles.IsLocal) == true;

    public RuntimeEnv Package(RuntimeEnv env, LocalFiles files) => env with { Modules = env.Modules!.Select(m => Ship(m, files)).ToList() };

    private static string Ship(string value, LocalFiles files)
    {
        if (!LocalFiles.IsLocal(value))
        {
            return files.CheckUri(value, Field, [".zip", ".nupkg"]);
        }

        var path = Path.GetFullPath(value);
        if (Directory.Exists(path))
        {
            return files.ShipDirectory(path, Field);
        }

        if (File.Exists(path) && path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            return files.ShipFile(path, Field);
        }

        if (File.Exists(path) && path.EndsWith(".nupkg", StringComparison.OrdinalIgnoreCase))
        {
            // A .nupkg is a zip already: the node picks the lib folder that fits its runtime.
            return files.ShipZip(path, Field, applyExcludes: false);
        }

        throw new ArgumentException($"module '{value}' does not exist or is not a directory, .dll or .nupkg (resolved to {path})", files.ParamName);
    }
}
