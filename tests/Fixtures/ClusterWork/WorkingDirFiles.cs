namespace ClusterWork;

/// <summary>Work that reads what its env's working_dir shipped.</summary>
public static class WorkingDirFiles
{
    public static string Read(string relativePath) => File.ReadAllText(relativePath);
}
