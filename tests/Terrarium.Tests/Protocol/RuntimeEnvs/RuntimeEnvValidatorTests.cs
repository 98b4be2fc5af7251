using Terrarium.Protocol.RuntimeEnvs;

namespace Terrarium.Tests.Protocol.RuntimeEnvs;

public sealed class RuntimeEnvValidatorTests
{
    [Theory]
    [InlineData("")]
    [InlineData("A=B")]
    public void Validate_BadVariableName_NamesIt(string name)
    {
        var env = new RuntimeEnv { EnvVars = new Dictionary<string, string> { [name] = "x" } };

        var error = Assert.Throws<ArgumentException>(() => RuntimeEnvValidator.Validate(env, "env"));

        Assert.Contains($"invalid variable name '{name}'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://feed.example/v3/index.json;RestorePackagesPath=/tmp/evil", "contains ';'")]
    [InlineData("ftp://feed.example/packages", "uses the scheme 'ftp://'")]
    [InlineData("https://feed example/v3/index.json", "is not a valid feed URL")]
    public void Validate_NuGetSourceThatIsNotAFeedUrlOrFolder_IsRefused(string source, string expected)
    {
        var env = new RuntimeEnv { NuGet = new NuGetSpec { Packages = ["Newtonsoft.Json@13.0.3"], Sources = [source] } };

        var error = Assert.Throws<ArgumentException>(() => RuntimeEnvValidator.Validate(env, "env"));

        Assert.Contains($"runtime_env.nuget.sources: '{source}'", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://api.nuget.org/v3/index.json")]
    [InlineData("http://localhost:5000/v3/index.json")]
    [InlineData("/srv/feed")]
    [InlineData("./feed")]
    [InlineData("file:///srv/feed")]
    public void Validate_NuGetFeedUrlOrFolder_IsAccepted_AndReachesTheCanonicalJsonAsGiven(string source)
    {
        var env = new RuntimeEnv { NuGet = new NuGetSpec { Packages = ["Newtonsoft.Json@13.0.3"], Sources = [source] } };

        RuntimeEnvValidator.Validate(env, "env");
        var sent = RuntimeEnv.FromJson(env.ToJson());

        Assert.Equal([source], sent.NuGet!.Sources);
        RuntimeEnvValidator.Validate(sent, "env");
    }

    [Fact]
    public void Validate_ReservedPrefix_IsRefused()
    {
        var env = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["TERRARIUM_TOKEN"] = "x" } };

        var error = Assert.Throws<ArgumentException>(() => RuntimeEnvValidator.Validate(env, "env"));

        Assert.Contains("reserved", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-2)]
    public void Validate_TimeoutNeitherPositiveNorMinusOne_IsRefused(int seconds)
    {
        var env = new RuntimeEnv { Config = new RuntimeEnvConfig { SetupTimeoutSeconds = seconds } };

        var error = Assert.Throws<ArgumentException>(() => RuntimeEnvValidator.Validate(env, "env"));

        Assert.Contains("setup_timeout_seconds must be a positive number of seconds, or -1 for no timeout", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_TimeoutMinusOne_MeansNoTimeout_AsInRay()
    {
        var env = RuntimeEnv.FromJson("""{"config": {"setup_timeout_seconds": -1}}""");

        RuntimeEnvValidator.Validate(env, "env");

        Assert.Equal(Timeout.InfiniteTimeSpan, env.Config!.SetupTimeout);
        Assert.Equal(TimeSpan.FromSeconds(600), new RuntimeEnvConfig().SetupTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), new RuntimeEnvConfig { SetupTimeoutSeconds = 30 }.SetupTimeout);
    }

    [Theory]
    [InlineData("s3://bucket/code.zip", "working_dir", "s3")]
    [InlineData("gs://bucket/code.zip", "working_dir", "gs")]
    [InlineData("s3://bucket/lib.zip", "modules", "s3")]
    public void Validate_UriOfASchemeNotFetched_IsRefusedByName(string uri, string field, string scheme)
    {
        var env = field == "working_dir" ? new RuntimeEnv { WorkingDir = uri } : new RuntimeEnv { Modules = [uri] };

        var error = Assert.Throws<ArgumentException>(() => RuntimeEnvValidator.Validate(env, "env"));

        Assert.Contains($"runtime_env.{field} '{uri}' uses the scheme '{scheme}://', which Terrarium does not fetch", error.Message, StringComparison.Ordinal);
        Assert.Contains("https:// or file:// URI of a zip, or a pkg:// content URI", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"pip": ["requests"], "conda": "analytics"}""", "has both 'pip' and 'conda'")]
    [InlineData("""{"conda": "analytics", "image_uri": "localhost/app:1"}""", "'conda' inside a 'container' takes the absolute prefix path")]
    [InlineData("""{"pip": {"install_options": ["--no-index"]}}""", "lists no packages and no requirements_file")]
    [InlineData("""{"conda": "envs/analytics"}""", "a prefix path must be absolute")]
    [InlineData("""{"pip": ["requests\n--index-url=https://elsewhere"]}""", "packages[0] must be one non-blank line")]
    [InlineData("""{"pip": {"packages": ["a"], "pip_version": "2 3"}}""", "is not a version or specifier")]
    public void Validate_PythonFieldsThatCannotWork_AreRefusedNamingWhy(string json, string expected)
    {
        var error = Assert.Throws<ArgumentException>(() => RuntimeEnvValidator.Validate(RuntimeEnv.FromJson(json), "env"));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--network=none")]
    [InlineData("--net")]
    [InlineData("--name")]
    [InlineData("-it")]
    [InlineData("-d")]
    [InlineData("--entrypoint=/bin/sh")]
    [InlineData("--rm")]
    public void Validate_RunOptionThatWouldCutTheWorkerOff_IsRefusedNamingIt(string option)
    {
        var env = new RuntimeEnv { Container = new ContainerSpec { Image = "localhost/app:1", RunOptions = ["--cpus=2", option] } };

        var error = Assert.Throws<ArgumentException>(() => RuntimeEnvValidator.Validate(env, "env"));

        Assert.StartsWith($"runtime_env.container.run_options[1] '{option}' is set by Terrarium itself", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--device=nvidia.com/gpu=all")]
    [InlineData("-v")]
    [InlineData("-e")]
    [InlineData("--cpus=2")]
    [InlineData("--security-opt=label=disable")]
    public void Validate_OtherRunOptions_AreAccepted(string option) =>
        RuntimeEnvValidator.Validate(new RuntimeEnv { Container = new ContainerSpec { Image = "localhost/app:1", RunOptions = [option, "x"] } }, "env");

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    [InlineData("--privileged")]
    [InlineData("debian bookworm")]
    public void Validate_ImageThatIsNotAReference_IsRefused(string image)
    {
        var error = Assert.Throws<ArgumentException>(() => RuntimeEnvValidator.Validate(new RuntimeEnv { Container = new ContainerSpec { Image = image } }, "env"));

        Assert.StartsWith($"runtime_env.container.image '{image}' is not an image reference", error.Message, StringComparison.Ordinal);
    }
}
