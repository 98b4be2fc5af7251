using System.Diagnostics;

namespace Terrarium.IntegrationTests;

/// <summary>The samples the README sends a new user to, run as built, each on its own embedded cluster.</summary>
public sealed class SampleTests : IDisposable
{
    private static readonly Lazy<bool> s_nuGetOrgReachable = new(() =>
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        try
        {
            return http.GetAsync("https://api.nuget.org/v3/index.json").GetAwaiter().GetResult().IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    });

    private readonly string _cache = Directory.CreateTempSubdirectory("terrarium-samples-").FullName;

    public void Dispose() => Directory.Delete(_cache, recursive: true);

    [SkippableFact]
    public async Task Quickstart_RunsATaskWithANuGetVersionTheDriverDoesNotUse_AndOneInTheFilesBesideIt()
    {
        Requirements.That(s_nuGetOrgReachable.Value, "nuget.org cannot be reached, and the Quickstart's task restores Newtonsoft.Json 12.0.3 from it");

        var output = await RunSampleAsync("Quickstart");

        Assert.Contains("Newtonsoft.Json: driver 13.0.0.0, task 12.0.0.0", output, StringComparison.Ordinal);
        Assert.Contains("words.txt has 30 words (read in " + Path.Combine(_cache, "packages"), output, StringComparison.Ordinal);
        Assert.Contains("hola, mundo", output, StringComparison.Ordinal);
        Assert.EndsWith("done\n", output, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task PythonEnv_ImportsTheWheelInTheVenvsPython_AndThroughPythonnet_ButNotWithoutTheEnv()
    {
        PythonWheels.RequireSharedLibPython();

        var output = await RunSampleAsync("PythonEnv");

        Assert.Contains("hello python process, from greeter 1.0 on Python 3.", output, StringComparison.Ordinal);
        Assert.Contains($"in {Path.Combine(_cache, "pip")}", output, StringComparison.Ordinal);
        Assert.Contains("hello pythonnet, from greeter 1.0", output, StringComparison.Ordinal);
        Assert.Contains("without the env: python is (none); no greeter", output, StringComparison.Ordinal);
    }

    /// <summary>Runs a sample's built program in its folder, as <c>dotnet run</c> does; what it printed, or an exception with all it said.</summary>
    private async Task<string> RunSampleAsync(string name)
    {
        var folder = Path.Combine(Repository.Root, "samples", name);
        var program = Path.Combine(folder, "bin", Repository.Configuration, Repository.Framework, name + ".dll");
        var start = new ProcessStartInfo(Terrarium.Node.WorkerHostCommand.CurrentDotnet(), [program])
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var variable in start.Environment.Keys.Where(k => k.StartsWith("TERRARIUM_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(variable);
        }

        start.Environment["TERRARIUM_CACHE_DIR"] = _cache;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
        Assert.True(process.ExitCode == 0, $"{name} exited with {process.ExitCode}:\n{await stdout}\n{await stderr}");
        return await stdout;
    }
}
