using Grpc.Net.Client;
using Microsoft.Extensions.Logging.Abstractions;
using Terrarium.Packaging;
using HeadClient = Terrarium.Protocol.Head.HeadClient;

namespace Terrarium.Tests.Client.Packaging;

/// <summary>
/// What the driver reads into an env before it is hashed, with no head to upload to: files that
/// bring their content into the env (a requirements file) are read at every submission, and what
/// they bring is checked as if it had been written in the env.
/// </summary>
public sealed class EnvPackagerTests : IDisposable
{
    private readonly DirectoryInfo _scratch = Directory.CreateTempSubdirectory("terrarium-envpack-");
    private readonly GrpcChannel _nowhere = GrpcChannel.ForAddress("http://127.0.0.1:9");
    private readonly EnvPackager _packager;

    public EnvPackagerTests() =>
        _packager = new EnvPackager(new DirectoryPackager(1 << 20, NullLogger.Instance), new PackageUploader(new HeadClient(_nowhere), "job-0001-test00", NullLogger.Instance));

    public void Dispose()
    {
        _nowhere.Dispose();
        _scratch.Delete(recursive: true);
    }

    [Fact]
    public void RequirementsFile_IsReadIntoThePackages_AheadOfThoseGiven_AndReadAgainEachTime()
    {
        var file = Path.Combine(_scratch.FullName, "requirements.txt");
        File.WriteAllText(file, "# pinned\nrequests==2.31  # http\n\nsix\n");
        var env = new RuntimeEnv { Pip = new PipSpec { RequirementsFile = file, Packages = ["attrs"] } };

        var sent = _packager.Resolve(env, "env");

        Assert.Equal(["requests==2.31", "six", "attrs"], sent.Pip!.Packages);
        Assert.Null(sent.Pip.RequirementsFile);
        Assert.True(EnvPackager.HasEditableLocalPaths(env));
    }

    [Theory]
    [InlineData("-e git+https://example.com/x.git#egg=x", "'-e'")]
    [InlineData("six --target /usr/lib/python3/dist-packages", "'--target'")]
    public void RequirementsFile_LineThatWouldInstallOutsideTheVenv_IsRefusedAtSubmission(string line, string named)
    {
        var file = Path.Combine(_scratch.FullName, "requirements.txt");
        File.WriteAllText(file, $"six\n{line}\n");

        var error = Assert.Throws<ArgumentException>(() => _packager.Resolve(new RuntimeEnv { Pip = new PipSpec { RequirementsFile = file } }, "env"));

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
        Assert.Contains("would make pip install or write outside the env's virtual environment", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EnvThatNamesNoFiles_IsReturnedAsItIs()
    {
        var env = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["A"] = "1" }, NuGet = ["Newtonsoft.Json@13.0.3"] };

        Assert.Same(env, _packager.Resolve(env, "env"));
        Assert.False(EnvPackager.HasEditableLocalPaths(env));
    }
}
