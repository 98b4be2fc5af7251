namespace Terrarium.IntegrationTests;

/// <summary>The checkout these tests were built from, and the configuration they were built in.</summary>
public static class Repository
{
    private static readonly DirectoryInfo s_testBin = new(AppContext.BaseDirectory.TrimEnd('/'));

    /// <summary>The folder that holds <c>Terrarium.slnx</c>.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>Release or Debug: what the tests, and so everything they reference, were built in.</summary>
    public static string Configuration => s_testBin.Parent!.Name;

    /// <summary>The target framework folder of the build (<c>net10.0</c>).</summary>
    public static string Framework => s_testBin.Name;

    private static string FindRoot()
    {
        var folder = s_testBin;
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "Terrarium.slnx")))
        {
            folder = folder.Parent;
        }

        return folder?.FullName ?? throw new InvalidOperationException($"no Terrarium.slnx above {AppContext.BaseDirectory}");
    }
}
