using System.Diagnostics;
using System.Text.Json;

namespace Terrarium.IntegrationTests;

/// <summary>The benchmark suite reports a group that fails and goes on: a run is never left without results.</summary>
public sealed class BenchmarkSuiteTests : IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("terrarium-bench-run-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [SkippableFact]
    public async Task ContainerGroup_InAnImageThatCannotRunAWorker_IsReportedFailed_InTheTableAndTheJson()
    {
        PodmanImages.Require();
        var benchmarks = BenchmarksAssembly();
        Requirements.That(File.Exists(benchmarks), $"the benchmarks are not built at {benchmarks} (dotnet build Terrarium.slnx builds them)");
        var image = await PodmanImages.WithoutCLibraryAsync();
        var results = Path.Combine(_scratch, "latest.json");

        using var run = Process.Start(new ProcessStartInfo(Terrarium.Node.WorkerHostCommand.CurrentDotnet(),
            [benchmarks, "--quick", "--only", "container", "--container-image", image, "--results", results])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        var stdout = run.StandardOutput.ReadToEndAsync();
        var stderr = run.StandardError.ReadToEndAsync();
        await run.WaitForExitAsync().DefaultTimeout();

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("container (group failed)", await stdout, StringComparison.Ordinal);
        Assert.Contains("container FAILED: RuntimeEnvSetupException", await stderr, StringComparison.Ordinal);
        using var written = JsonDocument.Parse(await File.ReadAllTextAsync(results));
        Assert.Contains("cannot run the Terrarium worker", written.RootElement.GetProperty("failed_groups").GetProperty("container").GetString(), StringComparison.Ordinal);
    }

    /// <summary>The benchmarks' assembly, built in this test's configuration (Release or Debug) beside it in the repository.</summary>
    private static string BenchmarksAssembly() => Path.Combine(
        Repository.Root, "benchmarks", "Terrarium.Benchmarks", "bin", Repository.Configuration, Repository.Framework, "Terrarium.Benchmarks.dll");
}
