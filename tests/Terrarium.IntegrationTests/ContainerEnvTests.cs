using Terrarium.Node;

namespace Terrarium.IntegrationTests;

/// <summary>
/// One embedded cluster whose container workers run in real podman containers of images the tests
/// build; started by the first test that needs it, so that a machine without podman skips.
/// </summary>
public sealed class ContainerEnvFixture : IAsyncLifetime
{
    public const string NodeDefaultVariable = "NODE_DEFAULT_OPTION";
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("terrarium-container-env-");
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Cluster? _cluster;

    public string Feed => Path.Combine(_root.FullName, "feed");

    public string Root => _root.FullName;

    public string MarkedImage { get; private set; } = "";

    public async Task<Cluster> StartAsync()
    {
        PodmanImages.Require();
        await _gate.WaitAsync();
        try
        {
            if (_cluster is null)
            {
                MarkedImage = await PodmanImages.MarkedAsync();
                LocalFeed.Build(Feed);
                var config = Path.Combine(Root, "NuGet.Config");
                LocalFeed.WriteIsolatedNuGetConfig(config);
                _cluster = await Cluster.InitAsync(new ClusterOptions
                {
                    NumCpus = 2,
                    LogToDriver = false,
                    CacheDirectory = Path.Combine(Root, "cache"),
                    NuGetConfigFile = config,
                    Containers = new ContainerRuntimeOptions { DefaultRunOptions = ["--env", $"{NodeDefaultVariable}=from-the-node"] },
                }).DefaultTimeout();
            }

            return _cluster;
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        _root.Delete(recursive: true);
    }
}

public sealed class ContainerEnvTests(ContainerEnvFixture fixture) : IClassFixture<ContainerEnvFixture>
{
    private TaskOptions InImage(string? image = null, IReadOnlyList<string>? runOptions = null) => new()
    {
        RuntimeEnv = new RuntimeEnv { Container = new ContainerSpec { Image = image ?? fixture.MarkedImage, RunOptions = runOptions ?? [] } },
    };

    [SkippableFact]
    public async Task Task_WithContainer_RunsInsideTheImage_AndOneWithoutDoesNot()
    {
        var cluster = await fixture.StartAsync();

        Assert.Equal($"{fixture.MarkedImage}|container", await cluster.Submit(() => ContainerEnvTasks.Where(), InImage()).DefaultTimeout());
        Assert.Equal("no marker|host", await cluster.Submit(() => ContainerEnvTasks.Where()).DefaultTimeout());
    }

    [SkippableFact]
    public async Task Actor_WithContainer_RunsInsideTheImage()
    {
        var cluster = await fixture.StartAsync();
        var actor = cluster.CreateActor(() => new WhereActor(), new ActorOptions { RuntimeEnv = InImage().RuntimeEnv });

        Assert.Equal($"{fixture.MarkedImage}|container", await actor.Call(a => a.Where()).DefaultTimeout());
        Assert.Equal(1, await actor.Call(a => a.Count()).DefaultTimeout());
        Assert.Equal(2, await actor.Call(a => a.Count()).DefaultTimeout());
        await actor.KillAsync();
    }

    [SkippableFact]
    public async Task Container_CombinesWithEnvVarsWorkingDirAndNuGet()
    {
        var cluster = await fixture.StartAsync();
        var workingDir = Path.Combine(fixture.Root, "code");
        Directory.CreateDirectory(workingDir);
        await File.WriteAllTextAsync(Path.Combine(workingDir, "data.txt"), "shipped");
        var env = new RuntimeEnv
        {
            Container = new ContainerSpec { Image = fixture.MarkedImage },
            EnvVars = new Dictionary<string, string> { ["GREETING"] = "hello" },
            WorkingDir = workingDir,
            NuGet = new NuGetSpec { Packages = ["DepLib@2.0.0"], Sources = [fixture.Feed] },
        };

        var seen = await cluster.Submit(() => ContainerEnvTasks.Combined("GREETING", "data.txt"), new TaskOptions { RuntimeEnv = env }).DefaultTimeout();

        Assert.Equal($"DepLib 2.0.0.0|hello|shipped|{fixture.MarkedImage}|container", seen);
    }

    [SkippableFact]
    public async Task Container_CombinesWithModules()
    {
        var cluster = await fixture.StartAsync();
        var name = "Greeter" + Guid.NewGuid().ToString("N")[..8];
        var dll = LibraryBuilder.Build(Path.Combine(fixture.Root, "lib"), name,
            "namespace Shipped { public static class Greeter { public static string Hello() => System.IO.File.ReadAllText(\"/terrarium-marker.txt\"); } }");
        var env = new RuntimeEnv { Container = new ContainerSpec { Image = fixture.MarkedImage }, Modules = [dll] };

        Assert.Equal(fixture.MarkedImage, await cluster.Submit(() => FileTasks.CallModule(name, "Shipped.Greeter", "Hello"), new TaskOptions { RuntimeEnv = env }).DefaultTimeout());
    }

    [SkippableFact]
    public async Task RunOptions_OfTheEnvAndTheNode_ReachPodman()
    {
        var cluster = await fixture.StartAsync();
        var options = InImage(runOptions: ["--env", "FROM_RUN_OPTIONS=yes"]);

        Assert.Equal("yes", await cluster.Submit(() => ContainerEnvTasks.Variable("FROM_RUN_OPTIONS"), options).DefaultTimeout());
        Assert.Equal("from-the-node", await cluster.Submit(() => ContainerEnvTasks.Variable(ContainerEnvFixture.NodeDefaultVariable), options).DefaultTimeout());
    }

    [SkippableFact]
    public async Task NodeStartedByTheCli_AddsItsDefaultRunOptions()
    {
        await fixture.StartAsync();
        await using var nodes = await CliCluster.StartAsync("{}", headArguments: ["--container-run-option=--env=FROM_CLI_NODE=yes"]);
        await using var cluster = await Cluster.InitAsync(nodes.DriverOptions).DefaultTimeout();

        Assert.Equal("yes", await cluster.Submit(() => ContainerEnvTasks.Variable("FROM_CLI_NODE"), InImage()).DefaultTimeout());
    }

    [SkippableFact]
    public async Task RunOption_PodmanRefuses_FailsTheEnvWithPodmansMessage()
    {
        var cluster = await fixture.StartAsync();

        var error = await Assert.ThrowsAsync<RuntimeEnvSetupException>(() => cluster.Submit(() => ContainerEnvTasks.Where(), InImage(runOptions: ["--no-such-option"])).DefaultTimeout());

        Assert.Equal("container", error.Field);
        Assert.Contains("no-such-option", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task RunOption_TheOciRuntimeRefuses_FailsWithItsMessage_NotBlamingTheImage()
    {
        var cluster = await fixture.StartAsync();
        // Above the kernel's nr_open: runc's setrlimit fails, and podman exits with 126 as for an image it cannot execute.
        string[] runOptions = ["--ulimit=nofile=2000000000:2000000000"];

        var error = await Assert.ThrowsAsync<RuntimeEnvSetupException>(() => cluster.Submit(() => ContainerEnvTasks.Where(), InImage(runOptions: runOptions)).DefaultTimeout());

        Assert.Contains("could not run image", error.Message, StringComparison.Ordinal);
        Assert.Contains("rlimit", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("glibc", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task NestedTask_InheritsTheContainer()
    {
        var cluster = await fixture.StartAsync();

        Assert.Equal($"{fixture.MarkedImage}|container", await cluster.Submit(() => ContainerEnvTasks.NestedWhere(), InImage()).DefaultTimeout());
    }

    [SkippableFact]
    public async Task ImageUri_InJson_IsTheSameAsAContainer()
    {
        var cluster = await fixture.StartAsync();
        var env = RuntimeEnv.FromJson($$"""{"image_uri": "{{fixture.MarkedImage}}"}""");

        Assert.Equal(InImage().RuntimeEnv, env);
        Assert.Equal($"{fixture.MarkedImage}|container", await cluster.Submit(() => ContainerEnvTasks.Where(), new TaskOptions { RuntimeEnv = env }).DefaultTimeout());
    }

    [SkippableFact]
    public async Task MissingImage_FailsNamingTheImage_AndTheClusterKeepsWorking()
    {
        var cluster = await fixture.StartAsync();
        const string missing = "localhost/terrarium-no-such-image:1";

        var error = await Assert.ThrowsAsync<RuntimeEnvSetupException>(() => cluster.Submit(() => ContainerEnvTasks.Where(), InImage(missing)).DefaultTimeout());

        Assert.Equal("container", error.Field);
        Assert.Contains($"could not pull image '{missing}'", error.Message, StringComparison.Ordinal);
        Assert.Equal("no marker|host", await cluster.Submit(() => ContainerEnvTasks.Where()).DefaultTimeout());
        Assert.Equal($"{fixture.MarkedImage}|container", await cluster.Submit(() => ContainerEnvTasks.Where(), InImage()).DefaultTimeout());
    }

    [SkippableFact]
    public async Task ImageWithoutCLibrary_FailsSayingWhy()
    {
        var cluster = await fixture.StartAsync();
        var image = await PodmanImages.WithoutCLibraryAsync();

        var error = await Assert.ThrowsAsync<RuntimeEnvSetupException>(() => cluster.Submit(() => ContainerEnvTasks.Where(), InImage(image)).DefaultTimeout());

        Assert.Equal("container", error.Field);
        Assert.Contains($"image '{image}' cannot run the Terrarium worker", error.Message, StringComparison.Ordinal);
        Assert.Contains("glibc", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task ImageWithoutIcu_RunsWithInvariantGlobalization()
    {
        var cluster = await fixture.StartAsync();
        var image = await PodmanImages.WithoutIcuAsync();

        Assert.Equal($"{image}|container", await cluster.Submit(() => ContainerEnvTasks.Where(), InImage(image)).DefaultTimeout());
        Assert.Equal("1", await cluster.Submit(() => ContainerEnvTasks.Variable("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"), InImage(image)).DefaultTimeout());
    }

    [SkippableFact]
    public async Task Containers_AreRemoved_WhenTheirWorkerIsReapedAndWhenTheClusterStops()
    {
        PodmanImages.Require();
        await fixture.StartAsync();
        string nodeId;
        await using (var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 2, LogToDriver = false, IdleWorkerTimeout = TimeSpan.FromSeconds(1) }).DefaultTimeout())
        {
            nodeId = (await cluster.GetStatusAsync()).Nodes[0].NodeId;
            Assert.Equal($"{fixture.MarkedImage}|container", await cluster.Submit(() => ContainerEnvTasks.Where(), InImage()).DefaultTimeout());
            await TestWaits.UntilAsync(async () => (await ContainersOfAsync(nodeId)).Length == 0, "the idle worker's container to be removed");

            var actor = cluster.CreateActor(() => new WhereActor(), new ActorOptions { RuntimeEnv = InImage().RuntimeEnv });
            Assert.Equal($"{fixture.MarkedImage}|container", await actor.Call(a => a.Where()).DefaultTimeout());
            Assert.NotEmpty(await ContainersOfAsync(nodeId));
        }

        Assert.Empty(await ContainersOfAsync(nodeId));
    }

    [SkippableFact]
    public async Task RunOptions_ThatWouldCutTheWorkerOff_AreRefusedAtSubmission()
    {
        var cluster = await fixture.StartAsync();

        var network = Assert.Throws<ArgumentException>(() => cluster.Submit(() => ContainerEnvTasks.Where(), InImage(runOptions: ["--network=none"])));
        var image = Assert.Throws<ArgumentException>(() => cluster.Submit(() => ContainerEnvTasks.Where(), InImage("--privileged")));

        Assert.Contains("run_options[0] '--network=none' is set by Terrarium itself", network.Message, StringComparison.Ordinal);
        Assert.Contains("is not an image reference", image.Message, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData("--privileged")]
    [InlineData("--volume=/:/host", "--volume")]
    [InlineData("-v", "--volume", "/:/host")]
    [InlineData("--mount=type=bind,src=/,dst=/host", "--mount")]
    [InlineData("--cap-add=ALL", "--cap-add")]
    [InlineData("--pid=host", "--pid")]
    [InlineData("--security-opt", "--security-opt", "seccomp=unconfined")]
    public async Task RunOption_ThatLetsTheJobOutOfItsContainer_IsRefusedByTheNodesPolicy_NamingHowToAllowIt(string option, string? name = null, string? value = null)
    {
        var cluster = await fixture.StartAsync();
        name ??= option;
        string[] runOptions = value is null ? [option] : [option, value];

        var error = await Assert.ThrowsAsync<RuntimeEnvSetupException>(() => cluster.Submit(() => ContainerEnvTasks.Where(), InImage(runOptions: runOptions)).DefaultTimeout());

        Assert.Equal("container", error.Field);
        Assert.Contains($"run_options[0] '{option}' is refused by node", error.Message, StringComparison.Ordinal);
        Assert.Contains($"'terrarium start --container-allow-option={name}'", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Worker_InAContainer_SeesItsEnvsFoldersReadOnly_AndNoneOfTheNodesOtherFiles()
    {
        var cluster = await fixture.StartAsync();
        var code = Directory.CreateDirectory(Path.Combine(fixture.Root, "confined-code")).FullName;
        await File.WriteAllTextAsync(Path.Combine(code, "data.txt"), "mine");
        var withFiles = new TaskOptions { RuntimeEnv = new RuntimeEnv { Container = new ContainerSpec { Image = fixture.MarkedImage }, WorkingDir = code } };
        var cache = Path.Combine(fixture.Root, "cache");
        // Something of the node's that no env of this test uses: another env's unpacked package.
        Assert.Equal("mine", await cluster.Submit(() => FileTasks.Read("data.txt"), new TaskOptions { RuntimeEnv = new RuntimeEnv { WorkingDir = code } }).DefaultTimeout());

        var seen = await cluster.Submit(() => ContainerEnvTasks.Confinement(cache), withFiles).DefaultTimeout();
        var plain = await cluster.Submit(() => ContainerEnvTasks.Confinement(cache), InImage()).DefaultTimeout();

        // Its working dir, read-only: a job cannot change the unpacked package other jobs use.
        Assert.Contains("data.txt:mine", seen, StringComparison.Ordinal);
        Assert.Contains("working dir writable:False", seen, StringComparison.Ordinal);
        // Of the node's session folder only the sockets (the embedded head's, the node's, its object
        // transfers', actors' read-only) and the worker's own folder, which it may write.
        Assert.Contains("session:actors,head.sock,node.sock,objects.sock,workers|", plain, StringComparison.Ordinal);
        Assert.Contains("working dir writable:True", plain, StringComparison.Ordinal);
        // Of the cache, nothing but what the env uses (here: nothing).
        Assert.Contains("cache packages:none", plain, StringComparison.Ordinal);
        Assert.Contains("nuget:False", plain, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task LargeValues_InAContainer_AreWrittenIntoAndMappedFromTheNodesSharedMemoryStore()
    {
        var cluster = await fixture.StartAsync();
        var made = cluster.Submit(() => TestTasks.Pattern(3), InImage());

        var value = await made.DefaultTimeout();
        var arrived = await cluster.Submit(() => TestTasks.HowArgumentArrived(made, 3), InImage()).DefaultTimeout();

        Assert.True(TestTasks.IsPattern(value.Span, 3));
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetMemoryManager<byte, Protocol.SharedMemory.MappedValue>(value, out var mapped),
            "the container's worker wrote its result into the store, and the driver mapped it");
        Assert.Equal(mapped.Path, arrived);
    }

    [SkippableFact]
    public async Task TaskInAContainer_CallsAnActorOutsideIt_OverTheNodesActorSocketFolder()
    {
        var cluster = await fixture.StartAsync();
        var counter = cluster.CreateActor(() => new ClusterWork.NodeCounter(), new ActorOptions { NumCpus = 0 });
        Assert.Equal(1, await counter.Call(c => c.Add(1)).DefaultTimeout());

        var called = await cluster.Submit(() => MultiNodeTasks.CallFromHere(counter, 2), InImage()).DefaultTimeout();

        Assert.StartsWith("3 via ", called, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task MinimalImage_WithoutOpenSslOrIcu_RunsTasksAndActors_WithTheNodesOpenSsl_WhichUserProcessesDoNotSee()
    {
        var cluster = await fixture.StartAsync();
        var image = await PodmanImages.MinimalAsync();
        var options = InImage(image);

        var seen = await cluster.Submit(() => ContainerEnvTasks.OpenSslView(), options).DefaultTimeout();
        var actor = cluster.CreateActor(() => new WhereActor(), new ActorOptions { RuntimeEnv = options.RuntimeEnv });

        // The worker hashed with OpenSSL (the node's); the image has none, and a process the task
        // starts sees the image as it is: no library path of Terrarium's.
        Assert.StartsWith("hashed|image libssl:False|LD_LIBRARY_PATH:unset|child sees:[]|", seen, StringComparison.Ordinal);
        Assert.EndsWith($"{image}|container", seen, StringComparison.Ordinal);
        Assert.Equal($"{image}|container", await actor.Call(a => a.Where()).DefaultTimeout());
    }

    private static async Task<string[]> ContainersOfAsync(string nodeId) =>
        (await PodmanImages.RunAsync("podman", "ps", "--all", "--quiet", "--filter", $"label=terrarium.node={nodeId}"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
}

public static class ContainerEnvTasks
{
    /// <summary>The marker of the image this runs in, and whether podman started it.</summary>
    public static string Where() =>
        $"{(File.Exists(PodmanImages.MarkerPath) ? File.ReadAllText(PodmanImages.MarkerPath) : "no marker")}|{(File.Exists("/run/.containerenv") ? "container" : "host")}";

    public static async Task<string> NestedWhere() => await Cluster.Current.Submit(() => Where());

    public static string? Variable(string name) => Environment.GetEnvironmentVariable(name);

    public static string Combined(string variable, string file) => $"{NuGetTasks.Combined(variable, file)}|{Where()}";

    /// <summary>Whether this worker can hash (OpenSSL), what the image and the process's children see of OpenSSL.</summary>
    public static string OpenSslView()
    {
        var hashed = System.Security.Cryptography.SHA256.HashData("x"u8).Length == 32 ? "hashed" : "not hashed";
        var imageHasIt = Directory.GetFiles("/usr/lib/x86_64-linux-gnu", "libssl.so*").Length > 0;
        using var child = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("/bin/sh", ["-c", "echo \"[$LD_LIBRARY_PATH]\""])
        {
            RedirectStandardOutput = true,
        })!;
        var childSees = child.StandardOutput.ReadToEnd().Trim();
        child.WaitForExit();
        return $"{hashed}|image libssl:{imageHasIt}|LD_LIBRARY_PATH:{Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "unset"}|child sees:{childSees}|{Where()}";
    }

    /// <summary>What of the node's files this worker sees, and whether it may write its working dir.</summary>
    public static string Confinement(string cache)
    {
        var session = Path.GetDirectoryName(Environment.GetEnvironmentVariable("TERRARIUM_NODE_ADDRESS")!["unix:".Length..])!;
        var packages = Path.Combine(cache, "packages");
        var writable = true;
        try
        {
            File.WriteAllText(Path.Combine(Directory.GetCurrentDirectory(), "planted.txt"), "x");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            writable = false;
        }

        var data = File.Exists("data.txt") ? File.ReadAllText("data.txt") : "none";
        var visible = Directory.Exists(packages) ? string.Join(",", Directory.GetDirectories(packages).Select(Path.GetFileName)) : "";
        return $"session:{string.Join(",", Directory.GetFileSystemEntries(session).Select(Path.GetFileName).Order())}|" +
            $"cache packages:{(visible.Length > 0 ? visible : "none")}|nuget:{Directory.Exists(Path.Combine(cache, "nuget"))}|" +
            $"data.txt:{data}|working dir writable:{writable}|{Where()}";
    }
}

public sealed class WhereActor
{
    private int _calls;

    public string Where() => ContainerEnvTasks.Where();

    public int Count() => ++_calls;
}
