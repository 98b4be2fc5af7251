using Terrarium.Node;
using Terrarium.Protocol.Transport;

namespace Terrarium.Tests.Node;

public sealed class NodeOptionsTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("terrarium-node-options-");

    public void Dispose() => _root.Delete(recursive: true);

    [Fact]
    public void Validate_WorkerHostWithItsRuntimeConfig_Passes()
    {
        var options = Options(withRuntimeConfig: true);

        options.Validate();
    }

    [Fact]
    public void Validate_WorkerHostWithoutItsRuntimeConfig_IsRefusedNamingTheFileAndTheFix()
    {
        var options = Options(withRuntimeConfig: false);

        var error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Equal(nameof(NodeOptions.WorkerHost), error.ParamName);
        Assert.Contains("has no 'Terrarium.runtimeconfig.json' beside it", error.Message, StringComparison.Ordinal);
        Assert.Contains("reference the Terrarium package", error.Message, StringComparison.Ordinal);
    }

    private NodeOptions Options(bool withRuntimeConfig)
    {
        var host = Path.Combine(_root.FullName, "Terrarium.dll");
        File.WriteAllText(host, "");
        if (withRuntimeConfig)
        {
            File.WriteAllText(Path.Combine(_root.FullName, "Terrarium.runtimeconfig.json"), "{}");
        }

        return new NodeOptions
        {
            Endpoints = [Endpoint.Parse("127.0.0.1:1")],
            Head = Endpoint.Parse("127.0.0.1:2"),
            Token = "token",
            SessionDirectory = _root.FullName,
            CacheDirectory = _root.FullName,
            WorkerHost = new WorkerHostCommand("dotnet", host),
        };
    }
}
