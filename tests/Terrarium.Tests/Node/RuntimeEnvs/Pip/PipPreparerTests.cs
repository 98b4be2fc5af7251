using Microsoft.Extensions.Logging.Abstractions;
using Terrarium.Node;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.RuntimeEnvs.Pip;

namespace Terrarium.Tests.Node.RuntimeEnvs.Pip;

public sealed class PipPreparerTests : IDisposable
{
    private readonly NodeCache _cache = new();

    public void Dispose() => _cache.Dispose();

    [Fact]
    public async Task RequirementsFile_ReachingTheNode_FailsSayingTheDriverReadsIt_AndNoPythonRuns()
    {
        var options = new NodeOptions { CacheDirectory = _cache.Options.CacheDirectory, Python = new PythonOptions { Interpreter = "/no/such/python3" } };

        var failure = await Assert.ThrowsAsync<RuntimeEnvSetupFailure>(() => new PipPreparer(options, NullLogger<PipPreparer>.Instance)
            .PrepareAsync(new RuntimeEnv { Pip = new PipSpec { RequirementsFile = "requirements.txt" } }, null, CancellationToken.None));

        Assert.Equal("pip", failure.Field);
        Assert.Contains("the driver reads the file into 'packages'", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NodesPythonThatDoesNotRun_FailsNamingItAndHowToSetIt()
    {
        var options = new NodeOptions { CacheDirectory = _cache.Options.CacheDirectory, Python = new PythonOptions { Interpreter = "/no/such/python3" } };

        Directory.CreateDirectory(options.CacheDirectory);

        var failure = await Assert.ThrowsAsync<RuntimeEnvSetupFailure>(() => new PipPreparer(options, NullLogger<PipPreparer>.Instance)
            .PrepareAsync(new RuntimeEnv { Pip = ["six"] }, null, CancellationToken.None));

        Assert.Equal("pip", failure.Field);
        Assert.Contains("the node's Python ('/no/such/python3') does not run", failure.Message, StringComparison.Ordinal);
        Assert.Contains("set it with terrarium start --python", failure.Message, StringComparison.Ordinal);
    }
}
