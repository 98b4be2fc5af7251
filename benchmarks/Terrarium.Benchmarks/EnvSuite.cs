using System.Diagnostics;
using NuGet.Frameworks;
using NuGet.Packaging;
using NuGet.Versioning;

namespace Terrarium.Benchmarks;

/// <summary>What users pay for environments: shipping a working dir, and restoring NuGet packages.</summary>
public static class EnvSuite
{
    public static async Task RunAsync(Harness harness)
    {
        var root = Directory.CreateTempSubdirectory("terrarium-bench-env-");
        try
        {
            await WorkingDirAsync(harness, root.FullName);
            await NuGetAsync(harness, root.FullName);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    private static async Task WorkingDirAsync(Harness harness, string root)
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { LogToDriver = false, CacheDirectory = Path.Combine(root, "cache-wd") });
        var sizes = harness.Quick ? new[] { (10, 1000, 0) } : [(10, 1000, 0), (200, 2000, 6)];
        foreach (var (mib, smallFiles, largeFiles) in sizes)
        {
            var dir = Path.Combine(root, $"tree-{mib}");
            var bytes = MakeTree(dir, mib, smallFiles, largeFiles);
            var env = new RuntimeEnv { WorkingDir = dir };

            // Submit packs and uploads synchronously: its duration is the driver's cost.
            var watch = Stopwatch.StartNew();
            var first = cluster.Submit(() => BenchTasks.Noop(), new TaskOptions { RuntimeEnv = env });
            var upload = watch.Elapsed;
            await first;
            var firstResult = watch.Elapsed;

            Record(harness, $"working_dir_{mib}mib_pack_upload", bytes / 1048576.0 / upload.TotalSeconds, "MiB/s",
                $"packaging + upload of a {mib} MiB tree ({smallFiles} small files, {largeFiles} large)");
            Record(harness, $"working_dir_{mib}mib_first_result_cold", firstResult.TotalMilliseconds, "ms",
                "new working_dir: pack, upload, node download + unpack, worker start, task");

            watch.Restart();
            await cluster.Submit(() => BenchTasks.Noop(), new TaskOptions { RuntimeEnv = env with { EnvVars = new Dictionary<string, string> { ["NEW"] = "worker" } } });
            Record(harness, $"working_dir_{mib}mib_first_result_cached_package", watch.Elapsed.TotalMilliseconds, "ms",
                "same content, new env (new worker): fingerprint check, no upload, no download");

            watch.Restart();
            await cluster.Submit(() => BenchTasks.Noop(), new TaskOptions { RuntimeEnv = env });
            Record(harness, $"working_dir_{mib}mib_result_warm", watch.Elapsed.TotalMilliseconds, "ms",
                "same env again: fingerprint check and a warm worker");
        }
    }

    private static async Task NuGetAsync(Harness harness, string root)
    {
        var feed = Path.Combine(root, "feed");
        MakeFeed(feed);
        var config = Path.Combine(root, "NuGet.Config");
        File.WriteAllText(config, "<configuration><packageSources><clear /></packageSources></configuration>");
        await using var cluster = await Cluster.InitAsync(new ClusterOptions
        {
            LogToDriver = false, CacheDirectory = Path.Combine(root, "cache-nuget"), NuGetConfigFile = config,
        });

        async Task<double> FirstResultAsync(string package, string marker)
        {
            var env = new RuntimeEnv { NuGet = new NuGetSpec { Packages = [package], Sources = [feed] }, EnvVars = new Dictionary<string, string> { ["M"] = marker } };
            var watch = Stopwatch.StartNew();
            await cluster.Submit(() => BenchTasks.Noop(), new TaskOptions { RuntimeEnv = env });
            return watch.Elapsed.TotalMilliseconds;
        }

        Record(harness, "nuget_first_result_fresh_cache", await FirstResultAsync("Bench.Lib@1.0.0", "a"), "ms",
            "new nuget env, empty node cache, restored from a local folder feed");
        Record(harness, "nuget_first_result_packages_cached", await FirstResultAsync("Bench.Lib@[1.0.0]", "b"), "ms",
            "new nuget spec whose packages are in the node cache: resolved in process from the node's package folder, no restore (goal < 1.5 s)");
        Record(harness, "nuget_first_result_restore_remembered", await FirstResultAsync("Bench.Lib@1.0.0", "c"), "ms",
            "same nuget spec in a new env: the restore is remembered, only a worker starts");

        var built = new TaskOptions { RuntimeEnv = new RuntimeEnv { NuGet = new NuGetSpec { Packages = ["Bench.Lib@1.0.0"], Sources = [feed] } } };
        var warmUp = Stopwatch.StartNew();
        while (warmUp.Elapsed < harness.RuntimeWarmUp)
        {
            await cluster.Submit(() => BenchTasks.Noop(), built);
        }

        var calls = 100;
        await harness.RateAsync("nuget_env_tasks_sync", "tasks in an env already built, submit and await in a loop (compare single_client_tasks_sync)", calls, async () =>
        {
            for (var i = 0; i < calls; i++)
            {
                await cluster.Submit(() => BenchTasks.Noop(), built);
            }
        });
    }

    private static void Record(Harness harness, string name, double value, string unit, string description)
    {
        harness.Results.Add(new Measurement(name, value, 0, unit, description));
        Console.Error.WriteLine($"  {name}: {value:N1} {unit}");
    }

    public static long MakeTree(string dir, int mib, int smallFiles, int largeFiles)
    {
        var random = new Random(42);
        long total = 0;
        var largeBytes = largeFiles == 0 ? 0 : (mib * 1048576L * 9 / 10) / largeFiles;
        var smallBytes = (int)((mib * 1048576L - largeBytes * largeFiles) / smallFiles);
        for (var i = 0; i < smallFiles; i++)
        {
            var path = Path.Combine(dir, $"d{i % 50}", $"f{i}.bin");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var data = new byte[smallBytes];
            random.NextBytes(data);
            File.WriteAllBytes(path, data);
            total += data.Length;
        }

        for (var i = 0; i < largeFiles; i++)
        {
            var data = new byte[largeBytes];
            random.NextBytes(data);
            File.WriteAllBytes(Path.Combine(dir, $"large{i}.bin"), data);
            total += data.Length;
        }

        return total;
    }

    /// <summary>A local feed with one real package (the Hello assembly as Bench.Lib).</summary>
    private static void MakeFeed(string feed)
    {
        Directory.CreateDirectory(feed);
        var builder = new PackageBuilder { Id = "Bench.Lib", Version = NuGetVersion.Parse("1.0.0"), Description = "benchmark package", Authors = { "terrarium" } };
        builder.DependencyGroups.Add(new PackageDependencyGroup(NuGetFramework.Parse("net8.0"), []));
        builder.Files.Add(new PhysicalPackageFile { SourcePath = Path.Combine(AppContext.BaseDirectory, "Hello.dll"), TargetPath = "lib/net8.0/Bench.Lib.dll" });
        using var output = File.Create(Path.Combine(feed, "Bench.Lib.1.0.0.nupkg"));
        builder.Save(output);
    }
}
