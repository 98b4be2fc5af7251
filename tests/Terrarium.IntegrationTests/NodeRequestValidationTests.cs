using Google.Protobuf;
using Terrarium.Protocol;

namespace Terrarium.IntegrationTests;

/// <summary>
/// The node checks what any client sends, not only what this library would send: requests written
/// by hand with the token, over a raw gRPC connection.
/// </summary>
public sealed class NodeRequestValidationTests : IAsyncLifetime
{
    private StandaloneCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await StandaloneCluster.StartAsync();

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task DefineEnv_WithAnotherEnvsHash_IsNotDefined_SoNoTaskRunsInIt()
    {
        // An env another driver uses; this client names its hash with JSON of its own choosing, so
        // that the node would build and cache that JSON under the other env's hash.
        var victim = RuntimeEnv.FromJson("""{"env_vars": {"MODE": "honest"}}""");
        var victimJson = victim.ToJson();
        var victimHash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(victimJson))).ToLowerInvariant();
        var (channel, node) = _cluster.RawNodeClient();
        using var _ = channel;
        using var session = node.Session();
        var submit = new SubmitTask
        {
            TaskId = "t-1",
            Function = new FunctionDescriptor { Assembly = "Terrarium.IntegrationTests", Type = typeof(TestTasks).FullName, Method = nameof(TestTasks.GetEnv), ParameterTypes = { "System.String" } },
            Args = { new Arg { Value = ByteString.CopyFrom(MessagePack.MessagePackSerializer.Serialize("MODE")) } },
            EnvHash = victimHash,
            Resources = new ResourceRequest { NumCpus = 1 },
        };

        await session.RequestStream.WriteAsync(new ClientBatch
        {
            Requests =
            {
                new ClientRequest { Open = new OpenSession { JobId = "job-raw", JobCodeDir = AppContext.BaseDirectory } },
                new ClientRequest { DefineEnv = new DefineRuntimeEnv { Hash = victimHash, CanonicalJson = """{"env_vars":{"MODE":"hijacked"}}""" } },
                new ClientRequest { SubmitTask = submit },
            },
        });

        var ready = await NextObjectReadyAsync(session.ResponseStream).DefaultTimeout();
        Assert.Equal(ObjectReady.ResultOneofCase.Error, ready.ResultCase);
        Assert.Equal(ErrorKind.InvalidRequest, ready.Error.Kind);
        Assert.Contains($"runtime env {victimHash} was not defined in this session", ready.Error.Message, StringComparison.Ordinal);
    }

    private static async Task<ObjectReady> NextObjectReadyAsync(Grpc.Core.IAsyncStreamReader<SessionBatch> events)
    {
        while (await events.MoveNext(CancellationToken.None))
        {
            if (events.Current.Events.FirstOrDefault(e => e.ObjectReady is not null)?.ObjectReady is { } ready)
            {
                return ready;
            }
        }

        throw new InvalidOperationException("the session ended without a result");
    }
}
