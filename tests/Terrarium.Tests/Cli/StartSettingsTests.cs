using Terrarium.Cli;

namespace Terrarium.Tests.Cli;

/// <summary><c>terrarium start</c>'s options, checked before anything starts: each mistake is one line that names the option.</summary>
public sealed class StartSettingsTests
{
    private static StartSettings Head(string host = "127.0.0.1", int? port = null, double? numCpus = null, string? resources = null,
        double deathTimeout = 10, string? redis = null, string? storageDir = null, string? nodeIp = null, string? nugetConfig = null) =>
        StartSettings.Parse(true, null, host, port, numCpus, resources, null, null, deathTimeout, redis, storageDir, nodeIp, nugetConfig);

    private static StartSettings Node(string address, int? port = null, string? redis = null, string? storageDir = null) =>
        StartSettings.Parse(false, address, "127.0.0.1", port, null, null, null, null, 10, redis, storageDir);

    [Theory]
    [InlineData("docker=1GB", "--cache-limit: cache limit 'docker=1GB' must be KIND=SIZE with KIND one of working_dir, pip, conda, nuget")]
    [InlineData("pip=lots", "--cache-limit: cache limit 'pip=lots': 'lots' is not a size")]
    public void CacheLimit_ThatDoesNotRead_NamesTheOption(string given, string expected) =>
        Assert.StartsWith(expected, Assert.Throws<UserError>(() => StartSettings.ParseCacheLimits(given)).Message, StringComparison.Ordinal);

    [Fact]
    public void PackageStoreLimit_ReadsASize_DefaultsTo10GB_AndNamesTheOptionWhenItDoesNotRead()
    {
        Assert.Equal(20_000_000_000, StartSettings.ParsePackageStoreLimit("20GB"));
        Assert.Equal(10_000_000_000, StartSettings.ParsePackageStoreLimit(null));
        Assert.Equal("--package-store-limit: 'lots' is not a size (such as 500MB, 10GB or 2GiB)",
            Assert.Throws<UserError>(() => StartSettings.ParsePackageStoreLimit("lots")).Message);
    }

    [Fact]
    public void CacheLimit_ReadsEachKindsSize() =>
        Assert.Equal(new Dictionary<string, long> { ["working_dir"] = 10_000_000_000, ["nuget"] = 20L << 30 }, StartSettings.ParseCacheLimits("working_dir=10GB, nuget=20GiB"));

    [Fact]
    public void Head_WithNothingElse_ListensOnLoopbackAtTheDefaultPort_WithEveryCpu()
    {
        var settings = Head();

        Assert.True(settings.IsHead);
        Assert.Null(settings.HeadAddress);
        Assert.Equal(StartSettings.DefaultHeadPort, settings.Port);
        Assert.Equal(Environment.ProcessorCount, settings.NumCpus);
        Assert.True(settings.IsLoopback);
        Assert.Null(settings.StorageDirectory);
    }

    [Fact]
    public void Node_JoiningAnAddress_KeepsItsHostAndPort()
    {
        var settings = Node("10.1.2.3:7000");

        Assert.False(settings.IsHead);
        Assert.Equal("10.1.2.3", settings.HeadAddress!.Host);
        Assert.Equal(7000, settings.HeadAddress.Port);
    }

    [Fact]
    public void HeadWithRedis_KeepsItsPackagesInTheCache_SoThatTheySurviveARestart()
    {
        var cache = Path.Combine(Path.GetTempPath(), "terrarium-settings-cache");

        var settings = StartSettings.Parse(true, null, "127.0.0.1", null, null, null, null, cache, 10, redis: "redis://:pw@127.0.0.1:6379");

        Assert.Equal(Path.Combine(cache, "head-store"), settings.StorageDirectory);
    }

    [Theory]
    [InlineData("0.0.0.0", false, true)]
    [InlineData("::", false, true)]
    [InlineData("localhost", true, false)]
    [InlineData("::1", true, false)]
    [InlineData("192.168.1.5", false, false)]
    public void Host_IsLoopbackOrEveryInterface_AsItsAddressSays(string host, bool loopback, bool wildcard)
    {
        var settings = Head(host);

        Assert.Equal(loopback, settings.IsLoopback);
        Assert.Equal(wildcard, settings.IsWildcard);
    }

    [Fact]
    public void AdvertisedHost_IsTheNodeIpAddressWhenGiven_ElseTheListenAddress()
    {
        Assert.Equal("node-7.example", Head("0.0.0.0", nodeIp: "node-7.example").AdvertisedHost);
        Assert.Equal("192.168.1.5", Head("192.168.1.5").AdvertisedHost);
    }

    public static TheoryData<Func<object>, string> Mistakes => new()
    {
        { () => StartSettings.Parse(true, "127.0.0.1:1", "127.0.0.1", null, null, null, null, null, 10), "give only one of them" },
        { () => Head(host: "my-laptop"), "--host 'my-laptop' is not an IP address to listen on" },
        { () => Head(port: 70000), "--port 70000 is not a TCP port" },
        { () => Node("127.0.0.1:6380", port: 7000), "--port sets the head's port" },
        { () => Head(numCpus: -1), "--num-cpus -1 must be zero or more" },
        { () => Head(numCpus: double.PositiveInfinity), "must be zero or more" },
        { () => Head(deathTimeout: 1), "--node-death-timeout 1 must be more than 1 second" },
        { () => Node("127.0.0.1:6380", redis: "redis://127.0.0.1:6379"), "--redis and --storage-dir are the head's" },
        { () => Node("127.0.0.1:6380", storageDir: "/tmp/x"), "--redis and --storage-dir are the head's" },
        { () => Head(redis: "myredis"), "--redis is not redis://" },
        { () => Head(nodeIp: "not a host"), "--node-ip-address 'not a host' is neither an IP address nor a host name" },
        { () => Node("no-port-here"), "--address:" },
        { () => Head(nugetConfig: "/no/such/NuGet.Config"), "--nuget-config '/no/such/NuGet.Config' does not exist" },
        { () => Head(resources: "[1, 2]"), "--resources must be a JSON object of names to numbers" },
        { () => Head(resources: """{"gpu": -1}"""), "--resources: 'gpu' = -1: names must be non-empty and amounts zero or more" },
        { () => Head(resources: """{"CPU": 2}"""), "--resources: give CPUs with --num-cpus" },
    };

    [Theory]
    [MemberData(nameof(Mistakes))]
    public void Mistake_IsAUserErrorNamingTheOption(Func<object> parse, string expected)
    {
        var error = Assert.Throws<UserError>(parse);

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resources_AreNamesToAmounts()
    {
        Assert.Equal(new Dictionary<string, double> { ["gpu"] = 2, ["pool"] = 0.5 }, Head(resources: """{"gpu": 2, "pool": 0.5}""").Resources);
        Assert.Empty(Head(resources: " ").Resources);
    }

    [Fact]
    public void Containers_KeepTheCommandAndOptionsGiven()
    {
        var containers = StartSettings.ParseContainers("/usr/bin/podman", ["--root", "/srv/podman"], ["--memory=512m"], ["--volume"], ["--tty"]);

        Assert.Equal("/usr/bin/podman", containers.Command);
        Assert.Equal(["--root", "/srv/podman"], containers.GlobalOptions);
        Assert.Equal(["--memory=512m"], containers.DefaultRunOptions);
        Assert.Equal(["--volume"], containers.AllowedRunOptions);
        Assert.Equal(["--tty"], containers.DeniedRunOptions);
    }

    [Theory]
    [InlineData("", new string[0], new string[0], new string[0], "--container-runtime must name a command")]
    [InlineData("podman", new[] { "-v" }, new string[0], new string[0], "--container-allow-option '-v' is not a long option name")]
    [InlineData("podman", new[] { "--volume=/x" }, new string[0], new string[0], "--container-allow-option '--volume=/x' is not a long option name")]
    [InlineData("podman", new[] { "--tty" }, new string[0], new string[0], "--container-allow-option '--tty' is not refused to begin with")]
    [InlineData("podman", new string[0], new[] { "tty" }, new string[0], "--container-deny-option 'tty' is not a long option name")]
    [InlineData("podman", new string[0], new string[0], new[] { "--name=x" }, "--container-run-option:")]
    public void Containers_Mistake_NamesTheOption(string command, string[] allowed, string[] denied, string[] runOptions, string expected)
    {
        var error = Assert.Throws<UserError>(() => StartSettings.ParseContainers(command, [], runOptions, allowed, denied));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Python_NeedsAnInterpreter_AndACondaCommandIfOneIsGiven()
    {
        Assert.Equal("python3.11", StartSettings.ParsePython("python3.11", null).Interpreter);
        Assert.Contains("--python must name a Python interpreter", Assert.Throws<UserError>(() => StartSettings.ParsePython(" ", null)).Message, StringComparison.Ordinal);
        Assert.Contains("--conda-command must name a command", Assert.Throws<UserError>(() => StartSettings.ParsePython("python3", "")).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1048576", 1L << 20)]
    [InlineData("512M", 512L << 20)]
    [InlineData("2G", 2L << 30)]
    [InlineData("2GiB", 2L << 30)]
    [InlineData("3k", 3L << 10)]
    public void Size_InBytesOrWithAUnit_IsRead(string text, long bytes) =>
        Assert.Equal(bytes, StartSettings.ParseSize(text, "--object-store-memory"));

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("-1G")]
    [InlineData("lots")]
    [InlineData("99999999999T")]
    public void Size_ThatIsNotOne_NamesTheOptionAndWhatItTakes(string text)
    {
        var error = Assert.Throws<UserError>(() => StartSettings.ParseSize(text, "--object-store-memory"));

        Assert.Equal($"--object-store-memory '{text}' is not a size (bytes, or a number with K, M, G or T, such as 2G)", error.Message);
    }

    [Fact]
    public void ObjectStore_IsAFolderOrNone()
    {
        Assert.Null(StartSettings.ParseObjectStore("none"));
        Assert.Equal("/dev", StartSettings.ParseObjectStore("/dev"));
        Assert.Contains("is not a folder", Assert.Throws<UserError>(() => StartSettings.ParseObjectStore("/nonexistent-tmpfs")).Message, StringComparison.Ordinal);
    }
}
