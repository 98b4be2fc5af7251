namespace Terrarium.IntegrationTests;

/// <summary>Working dirs for cache tests: each's name.txt says its name, beside random bytes that do not compress, so that its size is known.</summary>
public static class NamedWorkingDirs
{
    /// <summary>Task options whose env's working dir is a new folder <paramref name="name"/> under <paramref name="parent"/>.</summary>
    public static TaskOptions Make(string parent, string name, int randomBytes)
    {
        var folder = Directory.CreateDirectory(Path.Combine(parent, name)).FullName;
        File.WriteAllText(Path.Combine(folder, "name.txt"), name);
        File.WriteAllBytes(Path.Combine(folder, "data.bin"), System.Security.Cryptography.RandomNumberGenerator.GetBytes(randomBytes));
        return new TaskOptions { RuntimeEnv = new RuntimeEnv { WorkingDir = folder } };
    }
}
