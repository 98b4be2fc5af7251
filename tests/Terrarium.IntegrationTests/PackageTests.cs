using System.Diagnostics;

namespace Terrarium.IntegrationTests;

/// <summary>
/// Terrarium as a .NET team takes it: the packages of this checkout packed into a folder, a fresh
/// <c>dotnet new console</c> that adds the <c>Terrarium</c> package and runs tasks, and the
/// <c>Terrarium.Cli</c> tool installed from the same folder running the cluster the app joins.
/// Everything the app restores comes from that folder and this machine's NuGet cache, into a
/// packages folder of the test's own, so no earlier build's package can stand in for this one.
/// </summary>
public sealed class PackageTests : IDisposable
{
    private const string GreetingSource = """
        namespace PackageSmoke.Greeting { public static class Hello { public static string Say() => "hello from the package PackageSmoke.Greeting"; } }
        """;

    // The app references neither the greeting package nor anything but Terrarium: the task's env brings the package.
    private const string AppProgram = """
        using Terrarium;

        await using var cluster = await Cluster.InitAsync();
        var greeting = new RuntimeEnv { NuGet = new NuGetSpec { Packages = ["PackageSmoke.Greeting@1.0.0"], Sources = [args[0]] } };
        Console.WriteLine($"square: {await cluster.Submit(() => Work.Square(7))}");
        Console.WriteLine($"greeting: {await cluster.Submit(() => Work.Greet(), new TaskOptions { RuntimeEnv = greeting })}");
        Console.WriteLine($"worker host: {await cluster.Submit(() => Work.Host())}");

        public static class Work
        {
            public static int Square(int x) => x * x;

            public static string Greet() => (string)System.Reflection.Assembly.Load("PackageSmoke.Greeting")
                .GetType("PackageSmoke.Greeting.Hello")!.GetMethod("Say")!.Invoke(null, null)!;

            public static string Host() => typeof(Cluster).Assembly.Location;
        }
        """;

    private readonly string _scratch = Directory.CreateTempSubdirectory("terrarium-package-").FullName;

    private static string DotnetRoot => Path.GetDirectoryName(new FileInfo(Terrarium.Node.WorkerHostCommand.CurrentDotnet()).ResolveLinkTarget(returnFinalTarget: true)?.FullName
        ?? Terrarium.Node.WorkerHostCommand.CurrentDotnet())!;

    private string Packages => Path.Combine(_scratch, "packages");

    private string App => Path.Combine(_scratch, "app");

    private string Feed => Path.Combine(_scratch, "feed");

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public async Task FreshConsoleApp_AddsThePackage_AndRunsTasksInANuGetEnv_Built_Published_AndOnAClusterOfTheInstalledTool()
    {
        await RunAsync(_scratch, "dotnet", "pack", Path.Combine(Repository.Root, "Terrarium.slnx"), "-c", Repository.Configuration, "--no-build", "-o", Packages);
        Assert.Equal(
            ["Terrarium.0.1.0.nupkg", "Terrarium.Cli.0.1.0.nupkg", "Terrarium.Head.0.1.0.nupkg", "Terrarium.Node.0.1.0.nupkg", "Terrarium.Protocol.0.1.0.nupkg"],
            Directory.GetFiles(Packages, "*.nupkg").Select(Path.GetFileName).Order(StringComparer.Ordinal));
        WriteNuGetConfig();
        LocalFeed.BuildPackage(Feed, "PackageSmoke.Greeting", "1.0.0", GreetingSource);

        // What the README tells a new user to do, and nothing else.
        await RunAsync(_scratch, "dotnet", "new", "console", "-o", App, "--framework", "net10.0");
        await RunAsync(App, "dotnet", "add", "package", "Terrarium");
        await File.WriteAllTextAsync(Path.Combine(App, "Program.cs"), AppProgram);
        var embedded = await RunAsync(App, "dotnet", "run", "--", Feed);

        Assert.Contains("square: 49", embedded, StringComparison.Ordinal);
        Assert.Contains("greeting: hello from the package PackageSmoke.Greeting", embedded, StringComparison.Ordinal);
        var appOutput = Path.Combine(App, "bin", "Debug", "net10.0");
        Assert.Contains($"worker host: {Path.Combine(appOutput, "Terrarium.dll")}", embedded, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(appOutput, "Terrarium.runtimeconfig.json")), "the worker host's runtimeconfig is in the app's output");

        // Published, as it is deployed: the worker host goes along.
        var published = Path.Combine(_scratch, "published");
        await RunAsync(App, "dotnet", "publish", "-o", published);
        var fromPublished = await RunAsync(_scratch, "dotnet", Path.Combine(published, "app.dll"), Feed);
        Assert.Contains($"worker host: {Path.Combine(published, "Terrarium.dll")}", fromPublished, StringComparison.Ordinal);
        Assert.Contains("greeting: hello from the package PackageSmoke.Greeting", fromPublished, StringComparison.Ordinal);

        var tools = Path.Combine(_scratch, "tools");
        await RunAsync(_scratch, "dotnet", "tool", "install", "Terrarium.Cli", "--tool-path", tools, "--configfile", Path.Combine(_scratch, "NuGet.Config"));
        var terrarium = Path.Combine(tools, "terrarium");
        Assert.StartsWith("0.1.0", await RunAsync(_scratch, terrarium, "--version"), StringComparison.Ordinal);

        await using var cluster = await CliCluster.StartAsync(null);
        cluster.Command = [terrarium];
        // A tool's launcher finds .NET where it is installed, as the .NET docs tell tool users to set.
        cluster.Environment["DOTNET_ROOT"] = DotnetRoot;
        await cluster.StartHeadAsync("{}");
        var joined = await RunAsync(App, "dotnet", ["run", "--no-build", "--", Feed], new()
        {
            ["TERRARIUM_ADDRESS"] = cluster.HeadAddress,
            ["TERRARIUM_TOKEN"] = CliCluster.Token,
            ["TERRARIUM_CA_HASH"] = cluster.CaHash,
        });

        Assert.Contains("square: 49", joined, StringComparison.Ordinal);
        Assert.Contains("greeting: hello from the package PackageSmoke.Greeting", joined, StringComparison.Ordinal);
        // The workers are the installed tool's: its worker host came in the package too.
        Assert.Contains($"worker host: {Path.Combine(tools, ".store", "terrarium.cli", "0.1.0")}", joined, StringComparison.Ordinal);
    }

    /// <summary>
    /// Terrarium's packages only from the packed folder (by package source mapping); the rest from
    /// this machine's NuGet cache read as a feed, into a packages folder of the test's own.
    /// </summary>
    private void WriteNuGetConfig()
    {
        var machineCache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } set
            ? set
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        File.WriteAllText(Path.Combine(_scratch, "NuGet.Config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config><add key="globalPackagesFolder" value="{Path.Combine(_scratch, "nuget-packages")}" /></config>
              <packageSources>
                <clear />
                <add key="terrarium" value="{Packages}" />
                <add key="machine-cache" value="{machineCache}" />
              </packageSources>
              <fallbackPackageFolders><clear /></fallbackPackageFolders>
              <packageSourceMapping>
                <packageSource key="terrarium"><package pattern="Terrarium" /><package pattern="Terrarium.*" /></packageSource>
                <packageSource key="machine-cache"><package pattern="*" /></packageSource>
              </packageSourceMapping>
            </configuration>
            """);
    }

    private Task<string> RunAsync(string directory, string program, params string[] arguments) => RunAsync(directory, program, arguments, []);

    /// <summary>Runs a command to its end in <paramref name="directory"/>; its output, or an exception that holds all it said.</summary>
    private async Task<string> RunAsync(string directory, string program, string[] arguments, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(program, arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var name in start.Environment.Keys.Where(IsInherited).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["NUGET_PACKAGES"] = Path.Combine(_scratch, "nuget-packages");
        start.Environment["TERRARIUM_CACHE_DIR"] = Path.Combine(_scratch, "cache");
        start.Environment["DOTNET_ROOT"] = DotnetRoot;
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        // No build servers left running after the test: no MSBuild nodes, no compiler server.
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        start.Environment["UseSharedCompilation"] = "false";
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"'{program} {string.Join(' ', arguments)}' exited with {process.ExitCode}:\n{await stdout}\n{await stderr}");
        }

        return await stdout;
    }

    /// <summary>What the test run's own dotnet and MSBuild set, and what would point the app at another cluster.</summary>
    private static bool IsInherited(string name) =>
        name.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || name.StartsWith("TERRARIUM_", StringComparison.Ordinal)
        || name.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase) || name is "DOTNET_HOST_PATH";
}
