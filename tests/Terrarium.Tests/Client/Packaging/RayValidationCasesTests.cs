using Grpc.Net.Client;
using Microsoft.Extensions.Logging.Abstractions;
using Terrarium.Packaging;
using Terrarium.Protocol.RuntimeEnvs;
using HeadClient = Terrarium.Protocol.Head.HeadClient;

namespace Terrarium.Tests.Client.Packaging;

/// <summary>
/// Ray's runtime-env validation tests (python/ray/tests/test_runtime_env_validation.py), case by
/// case, against Terrarium's JSON reader and validator. Where Terrarium differs on purpose the test
/// says so, and docs/runtime-env.md ("Compared with Ray") lists the differences.
/// </summary>
public sealed class RayValidationCasesTests
{
    private static void Refused(string json, string expected)
    {
        var error = Assert.ThrowsAny<ArgumentException>(() => RuntimeEnvValidator.Validate(RuntimeEnv.FromJson(json), "env"));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    private static void Accepted(string json) => RuntimeEnvValidator.Validate(RuntimeEnv.FromJson(json), "env");

    [Fact]
    public void KeyWithValueNone_IsAnEmptyEnv() => Assert.Equal(new RuntimeEnv(), RuntimeEnv.FromJson("""{"pip": null}"""));

    [Theory]
    [InlineData("working_dir", """ "unknown://abc" """)]
    [InlineData("modules", """ ["unknown://abc"] """)]
    public void BadUri_IsRefusedNamingTheScheme(string field, string value) =>
        Refused($$"""{"{{field}}": {{value}}}""", "uses the scheme 'unknown://', which Terrarium does not fetch");

    [Theory]
    [InlineData("""{"working_dir": 1}""", "runtime_env.working_dir must be a string, got the number 1")]
    [InlineData("""{"modules": "."}""", "runtime_env.modules must be a list of strings, got the string \".\"")]
    [InlineData("""{"modules": [1]}""", "runtime_env.modules[0] must be a string, got the number 1")]
    [InlineData("""{"excludes": 1}""", "runtime_env.excludes must be a list of strings")]
    [InlineData("""{"excludes": true}""", "runtime_env.excludes must be a list of strings")]
    [InlineData("""{"excludes": "string"}""", "runtime_env.excludes must be a list of strings")]
    [InlineData("""{"excludes": ["string", 1]}""", "runtime_env.excludes[1] must be a string")]
    [InlineData("""{"conda": 1}""", "runtime_env.conda must be an environment name")]
    [InlineData("""{"conda": true}""", "runtime_env.conda must be an environment name")]
    [InlineData("""{"pip": 1}""", "runtime_env.pip must be a list of requirements")]
    [InlineData("""{"pip": true}""", "runtime_env.pip must be a list of requirements")]
    [InlineData("""{"env_vars": {"INT_ENV": 1}}""", "runtime_env.env_vars.INT_ENV must be a string, got the number 1")]
    public void WrongType_IsRefusedAtParse_NamingThePath(string json, string expected)
    {
        var error = Assert.Throws<ArgumentException>(() => RuntimeEnv.FromJson(json));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EnvVarWithANonStringName_CannotBeWrittenInJson()
    {
        // Ray's {1: "hi"}: JSON object keys are always strings, so the case cannot arise here.
        Assert.Equal("1", RuntimeEnv.FromJson("""{"env_vars": {"1": "hi"}}""").EnvVars!.Keys.Single());
    }

    [Fact]
    public void RemoteZipOverHttps_IsAccepted_AndSentAsGiven_WithNothingUploaded()
    {
        var env = RuntimeEnv.FromJson("""{"working_dir": "https://some_domain.com/path/file.zip", "modules": ["https://some_domain.com/path/file.zip"]}""");
        RuntimeEnvValidator.Validate(env, "env");
        // A head nobody listens for: packaging that tried to upload anything would fail.
        using var nowhere = GrpcChannel.ForAddress("http://127.0.0.1:9");
        var packager = new EnvPackager(new DirectoryPackager(1 << 20, NullLogger.Instance), new PackageUploader(new HeadClient(nowhere), "job-0001-test00", NullLogger.Instance));

        var sent = packager.Resolve(env, "env");

        Assert.Equal("https://some_domain.com/path/file.zip", sent.WorkingDir);
        Assert.Equal(["https://some_domain.com/path/file.zip"], sent.Modules!);
        Assert.False(EnvPackager.HasEditableLocalPaths(env));
    }

    /// <summary>Differs on purpose: Terrarium fetches https://, file:// and pkg:// only, and says so at submission.</summary>
    [Theory]
    [InlineData("s3://bucket/file.zip")]
    [InlineData("gs://bucket/file.zip")]
    public void S3AndGcsZips_AreRefusedByName_WhereRayFetchesThem(string uri)
    {
        Refused($$"""{"working_dir": "{{uri}}"}""", $"uses the scheme '{uri[..2]}://', which Terrarium does not fetch; use a local path, an https:// or file:// URI of a zip, or a pkg:// content URI");
        Refused($$"""{"modules": ["{{uri}}"]}""", $"uses the scheme '{uri[..2]}://'");
    }

    [Fact]
    public void EmptyExcludes_IsAnEmptyEnv() => Assert.True(RuntimeEnv.FromJson("""{"excludes": []}""").IsEmpty);

    [Fact]
    public void Empty_IsAnEmptyEnv() => Assert.True(RuntimeEnv.FromJson("{}").IsEmpty);

    [Fact]
    public void Serialization_KeyOrderDoesNotMatter()
    {
        var env1 = RuntimeEnv.FromJson("""{"pip": ["requests"], "env_vars": {"hi1": "hi1", "hi2": "hi2"}}""");
        var env2 = RuntimeEnv.FromJson("""{"env_vars": {"hi2": "hi2", "hi1": "hi1"}, "pip": ["requests"]}""");

        Assert.Equal(env1, env2);
        Assert.Equal(env1.ToJson(), env2.ToJson());
        Assert.Equal(env1, RuntimeEnv.FromJson(env1.ToJson()));
    }

    [Fact]
    public void CondaName_AndPipList_Parse_ThoughTheyMayNotBeCombined() => Assert.Equal(
        new RuntimeEnv { Conda = new CondaSpec { Environment = "my_env_name" }, Pip = ["requests==1.0.0", "pip-install-test"] },
        RuntimeEnv.FromJson("""{"conda": "my_env_name", "pip": ["requests==1.0.0", "pip-install-test"]}"""));

    [Fact]
    public void CondaDict_ParsesAsItsSpec() =>
        Assert.Equal("""{"conda":{"dependencies":["pip",{"pip":["pip-install-test==0.5"]}]}}""",
            RuntimeEnv.FromJson("""{"conda": {"dependencies": ["pip", {"pip": ["pip-install-test==0.5"]}]}}""").ToJson());

    [Fact]
    public void PipAndConda_Together_AreRefused() =>
        Refused("""{"pip": ["requests"], "conda": "env_name"}""", "has both 'pip' and 'conda'");

    [Fact]
    public void PipDict_WithRaysKeys_Parses()
    {
        var pip = RuntimeEnv.FromJson("""{"pip": {"packages": ["pkg1", "ray", "pkg2"], "pip_check": false, "pip_install_options": ["--no-cache-dir"], "pip_version": "==23.2.1"}}""").Pip!;

        Assert.Equal(["pkg1", "ray", "pkg2"], pip.Packages);
        Assert.False(pip.PipCheck);
        Assert.Equal(["--no-cache-dir"], pip.InstallOptions);
        Assert.Equal("==23.2.1", pip.PipVersion);
    }

    [Fact]
    public void PipList_AndCondaName_AreAccepted()
    {
        Accepted("""{"pip": ["requests==1.0.0", "pip-install-test"]}""");
        Accepted("""{"conda": "my_env_name"}""");
    }

    [Fact]
    public void RequirementsFile_IsReadIntoItsRequirements()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "requests==1.0.0\npip-install-test\n");

            Assert.Equal(["requests==1.0.0", "pip-install-test"], PythonSpecFiles.ReadRequirements(file, "env"));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("../bad_path.txt", "pip.requirements_file '../bad_path.txt' cannot be read")]
    public void RequirementsFile_ThatIsMissing_IsRefused(string file, string expected) =>
        Assert.StartsWith(expected, Assert.Throws<ArgumentException>(() => PythonSpecFiles.ReadRequirements(file, "env")).Message, StringComparison.Ordinal);

    [Fact]
    public void CondaFile_IsReadIntoItsSpec_AndABadOneIsRefused()
    {
        var good = Path.ChangeExtension(Path.GetTempFileName(), ".yaml");
        var bad = Path.ChangeExtension(Path.GetTempFileName(), ".yaml");
        try
        {
            File.WriteAllText(good, "dependencies:\n- pip\n- pip:\n  - pip-install-test==0.5\n");
            File.WriteAllText(bad, "% this is not a YAML file %\n");

            Assert.Equal("""{"dependencies":["pip",{"pip":["pip-install-test==0.5"]}]}""", PythonSpecFiles.ReadEnvironmentFile(good, "env"));
            Assert.Throws<ArgumentException>(() => PythonSpecFiles.ReadEnvironmentFile(bad, "env"));
            Assert.Throws<ArgumentException>(() => PythonSpecFiles.ReadEnvironmentFile("../bad_path.yaml", "env"));
            File.WriteAllText(bad, "? [a, b]\n: c\n");
            Assert.Contains("is not a plain name", Assert.Throws<ArgumentException>(() => PythonSpecFiles.ReadEnvironmentFile(bad, "env")).Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(good);
            File.Delete(bad);
        }
    }

    /// <summary>Differs on purpose: a working_dir named by Ray's unfetched "uri://" scheme is refused, not carried as is.</summary>
    [Fact]
    public void JobConfigWorkingDirUri_OfAnUnknownScheme_IsRefused() =>
        Refused("""{"working_dir": "uri://abc"}""", "uses the scheme 'uri://'");

    /// <summary>Differs on purpose: Ray refuses container with most other fields; here it combines with all of them.</summary>
    [Fact]
    public void Container_CombinesWithEveryOtherField() =>
        Accepted("""
            {"container": {"image": "localhost/app:1", "run_options": ["--cpus=2"]}, "env_vars": {"A": "1"},
             "working_dir": "https://example.com/code.zip", "modules": ["https://example.com/lib.zip"], "excludes": ["*.log"],
             "nuget": ["DepLib@2.0.0"], "config": {"setup_timeout_seconds": 60}}
            """);

    /// <summary>Differs on purpose: an unknown key is an error with a suggestion, where Ray hands it to a plugin or ignores it.</summary>
    [Fact]
    public void UnknownKey_IsAnError() =>
        Assert.StartsWith("unknown key 'py_modules' in runtime_env", Assert.Throws<ArgumentException>(() => RuntimeEnv.FromJson("""{"py_modules": ["a"]}""")).Message, StringComparison.Ordinal);

    [Theory]
    [InlineData(0, "must be a positive number of seconds, or -1 for no timeout; got 0")]
    [InlineData(-2, "got -2")]
    public void SetupTimeout_ZeroOrBelowMinusOne_IsRefusedAtParse(int seconds, string expected) =>
        Assert.Contains(expected, Assert.Throws<ArgumentException>(() => RuntimeEnv.FromJson($$$"""{"config": {"setup_timeout_seconds": {{{seconds}}}}}""")).Message, StringComparison.Ordinal);

    [Fact]
    public void SetupTimeout_MinusOne_IsNoTimeout() =>
        Assert.Equal(RuntimeEnvConfig.NoTimeout, RuntimeEnv.FromJson("""{"config": {"setup_timeout_seconds": -1}}""").Config!.SetupTimeoutSeconds);
}
