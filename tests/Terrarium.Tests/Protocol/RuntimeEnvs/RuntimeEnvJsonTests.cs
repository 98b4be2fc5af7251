namespace Terrarium.Tests.Protocol.RuntimeEnvs;

public sealed class RuntimeEnvJsonTests
{
    [Fact]
    public void FromJson_EveryField_RoundTripsToTheSameCanonicalJson()
    {
        const string json = """
            {
              "working_dir": "./app",
              "modules": ["lib/", "extra.dll"],
              "excludes": ["*.log"],
              "nuget": {"packages": ["Serilog@[3.0,4.0)", "Humanizer.Core"], "sources": ["./feed"]},
              "pip": {"packages": ["requests==2.31"], "install_options": ["--no-index"]},
              "conda": "analytics",
              "container": {"image": "localhost/tools:1", "run_options": ["--network=none"]},
              "env_vars": {"B": "2", "A": "1"},
              "config": {"setup_timeout_seconds": 60, "eager_install": false}
            }
            """;

        var env = RuntimeEnv.FromJson(json);

        Assert.Equal("./app", env.WorkingDir);
        Assert.Equal(["lib/", "extra.dll"], env.Modules);
        Assert.Equal(["Serilog@[3.0,4.0)", "Humanizer.Core"], env.NuGet!.Packages);
        Assert.Equal(["./feed"], env.NuGet.Sources);
        Assert.Equal(["requests==2.31"], env.Pip!.Packages);
        Assert.Equal("analytics", env.Conda!.Environment);
        Assert.Equal("localhost/tools:1", env.Container!.Image);
        Assert.Equal(60, env.Config!.SetupTimeoutSeconds);
        Assert.False(env.Config.EagerInstall);
        Assert.Equal(env.ToJson(), RuntimeEnv.FromJson(env.ToJson()).ToJson());
    }

    [Fact]
    public void ToJson_SortsEnvVarsAndPackages_SoEqualSpecsHaveEqualJson()
    {
        var a = new RuntimeEnv
        {
            EnvVars = new Dictionary<string, string> { ["Z"] = "1", ["A"] = "2" },
            NuGet = ["B@1.0.0", "A@2.0.0"],
        };
        var b = new RuntimeEnv
        {
            EnvVars = new Dictionary<string, string> { ["A"] = "2", ["Z"] = "1" },
            NuGet = ["A@2.0.0", "B@1.0.0"],
        };

        Assert.Equal("""{"env_vars":{"A":"2","Z":"1"},"nuget":["A@2.0.0","B@1.0.0"]}""", a.ToJson());
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
    }

    [Fact]
    public void ToJson_DefaultConfig_IsLeftOut()
    {
        var env = new RuntimeEnv { Config = new RuntimeEnvConfig(), EnvVars = new Dictionary<string, string> { ["A"] = "1" } };

        Assert.Equal("""{"env_vars":{"A":"1"}}""", env.ToJson());
    }

    [Theory]
    [InlineData("""{"env_vars": {"MODE": "fast", "MODE": "slow"}}""", "MODE")]
    [InlineData("""{"env_vars": {"A": "1"}, "env_vars": {"B": "2"}}""", "env_vars")]
    [InlineData("""{"nuget": {"packages": ["A"], "packages": ["B"]}}""", "packages")]
    public void FromJson_KeyGivenTwice_IsAnErrorNamingIt(string json, string key)
    {
        var error = Assert.Throws<ArgumentException>(() => RuntimeEnv.FromJson(json));

        Assert.Contains("runtime_env is not valid JSON", error.Message, StringComparison.Ordinal);
        Assert.Contains($"'{key}'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"excludes": []}""")]
    [InlineData("""{"modules": []}""")]
    [InlineData("""{"env_vars": {}}""")]
    [InlineData("""{"pip": null}""")]
    [InlineData("""{"working_dir": null, "conda": null, "container": null, "config": null}""")]
    public void FromJson_EmptyOrNullField_IsTheSameEnvAsNone(string json)
    {
        var env = RuntimeEnv.FromJson(json);

        Assert.Equal("{}", env.ToJson());
        Assert.True(env.IsEmpty);
    }

    [Fact]
    public void NuGetExact_IsKeptInTheCanonicalJson_OnlyWhenTrue_AndMustBeABoolean()
    {
        var exact = RuntimeEnv.FromJson("""{"nuget": {"packages": ["A@1.0.0"], "exact": true}}""");
        var loose = RuntimeEnv.FromJson("""{"nuget": {"packages": ["A@1.0.0"], "exact": false}}""");

        Assert.True(exact.NuGet!.Exact);
        Assert.Equal("""{"nuget":{"exact":true,"packages":["A@1.0.0"]}}""", exact.ToJson());
        Assert.Equal("""{"nuget":["A@1.0.0"]}""", loose.ToJson());
        var error = Assert.Throws<ArgumentException>(() => RuntimeEnv.FromJson("""{"nuget": {"packages": ["A@1.0.0"], "exact": "yes"}}"""));
        Assert.Contains("runtime_env.nuget.exact must be true or false, got the string \"yes\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromJson_NullNestedKey_MeansItsDefault()
    {
        var env = RuntimeEnv.FromJson("""{"nuget": {"packages": ["A@1.0.0"], "sources": null}, "config": {"setup_timeout_seconds": null}}""");

        Assert.Equal("""{"nuget":["A@1.0.0"]}""", env.ToJson());
    }

    [Fact]
    public void FromJson_TimeoutMinusOne_RoundTripsAsNoTimeout_AndZeroIsRefusedAtParse()
    {
        var env = RuntimeEnv.FromJson("""{"config": {"setup_timeout_seconds": -1}}""");
        var error = Assert.Throws<ArgumentException>(() => RuntimeEnv.FromJson("""{"config": {"setup_timeout_seconds": 0}}"""));

        Assert.Equal(RuntimeEnvConfig.NoTimeout, env.Config!.SetupTimeoutSeconds);
        Assert.Equal(env.ToJson(), RuntimeEnv.FromJson(env.ToJson()).ToJson());
        Assert.Contains("runtime_env.config.setup_timeout_seconds must be a positive number of seconds, or -1 for no timeout; got 0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToJson_EmptyListsAndMapsFromCode_AreLeftOut()
    {
        var env = new RuntimeEnv { Excludes = [], Modules = [], EnvVars = new Dictionary<string, string>(), WorkingDir = "./job" };

        Assert.Equal("""{"working_dir":"./job"}""", env.ToJson());
    }

    [Fact]
    public void FromJson_UnknownKey_SuggestsTheClosestKnownKey()
    {
        var error = Assert.Throws<ArgumentException>(() => RuntimeEnv.FromJson("""{"env_var": {"A": "1"}}"""));

        Assert.Contains("unknown key 'env_var'", error.Message, StringComparison.Ordinal);
        Assert.Contains("did you mean 'env_vars'?", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromJson_RayStyleCamelCase_SuggestsSnakeCase()
    {
        var error = Assert.Throws<ArgumentException>(() => RuntimeEnv.FromJson("""{"workingDir": "."}"""));

        Assert.Contains("did you mean 'working_dir'?", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromJson_NonStringEnvVar_NamesTheVariableAndValue()
    {
        var error = Assert.Throws<ArgumentException>(() => RuntimeEnv.FromJson("""{"env_vars": {"PORT": 8080}}"""));

        Assert.Equal("runtime_env.env_vars.PORT must be a string, got the number 8080", error.Message);
    }

    [Fact]
    public void FromJson_WrongTypeForList_NamesTheField()
    {
        var error = Assert.Throws<ArgumentException>(() => RuntimeEnv.FromJson("""{"modules": "lib/"}"""));

        Assert.Contains("runtime_env.modules must be a list of strings", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromJson_UnknownNestedKey_NamesItsPath()
    {
        var error = Assert.Throws<ArgumentException>(() => RuntimeEnv.FromJson("""{"config": {"setup_timeout": 5}}"""));

        Assert.Contains("unknown key 'setup_timeout' in runtime_env.config", error.Message, StringComparison.Ordinal);
        Assert.Contains("did you mean 'setup_timeout_seconds'?", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromJson_MalformedJson_ThrowsArgumentException()
    {
        var error = Assert.Throws<ArgumentException>(() => RuntimeEnv.FromJson("""{"env_vars": """));

        Assert.StartsWith("runtime_env is not valid JSON", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromJson_NotAnObject_ThrowsArgumentException()
    {
        var error = Assert.Throws<ArgumentException>(() => RuntimeEnv.FromJson("[1, 2]"));

        Assert.Equal("runtime_env must be an object, got a list", error.Message);
    }

    [Fact]
    public void FromJson_ImageUri_IsTheSameEnvAsAContainerWithThatImage()
    {
        var env = RuntimeEnv.FromJson("""{"image_uri": "localhost/app:1", "env_vars": {"A": "1"}}""");

        Assert.Equal(new RuntimeEnv { Container = new ContainerSpec { Image = "localhost/app:1" }, EnvVars = new Dictionary<string, string> { ["A"] = "1" } }, env);
        Assert.Equal("""{"container":{"image":"localhost/app:1","run_options":[]},"env_vars":{"A":"1"}}""", env.ToJson());
    }

    [Fact]
    public void FromJson_ContainerAndImageUri_IsAnErrorNamingBoth()
    {
        var error = Assert.Throws<ArgumentException>(() => RuntimeEnv.FromJson("""{"container": {"image": "a"}, "image_uri": "b"}"""));

        Assert.Equal("runtime_env sets 'container' twice: 'container' and 'image_uri' are the same field; give one", error.Message);
    }

    [Fact]
    public void FromJson_ImageUriMisspelt_SuggestsIt()
    {
        var error = Assert.Throws<ArgumentException>(() => RuntimeEnv.FromJson("""{"image_url": "a"}"""));

        Assert.StartsWith("unknown key 'image_url' in runtime_env; did you mean 'image_uri'?", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromJson_ContainerWithoutImage_ThrowsArgumentException()
    {
        var error = Assert.Throws<ArgumentException>(() => RuntimeEnv.FromJson("""{"container": {"run_options": []}}"""));

        Assert.Equal("runtime_env.container needs an 'image'", error.Message);
    }

    [Fact]
    public void EnvVars_AreCopied_SoLaterChangesToTheSourceDoNotLeakIn()
    {
        var source = new Dictionary<string, string> { ["A"] = "1" };
        var env = new RuntimeEnv { EnvVars = source };

        source["A"] = "changed";

        Assert.Equal("1", env.EnvVars!["A"]);
    }
}
