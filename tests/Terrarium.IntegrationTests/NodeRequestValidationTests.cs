using Google.Protobuf;
using Terrarium.Protocol;
using Terrarium.Protocol.Transport;

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
        var victimHash = HashOf(RuntimeEnv.FromJson("""{"env_vars": {"MODE": "honest"}}""").ToJson());

        var ready = await SubmitInEnvAsync(victimHash, """{"env_vars":{"MODE":"hijacked"}}""");

        Assert.Equal(ErrorKind.InvalidRequest, ready.Error.Kind);
        Assert.Contains($"runtime env {victimHash} was refused by the node: its hash is ", ready.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DefineEnv_NotInCanonicalForm_IsRefused_NamingTheCanonicalForm()
    {
        const string json = """{"env_vars": {"MODE": "spaced"}}""";

        var ready = await SubmitInEnvAsync(HashOf(json), json);

        Assert.Contains("its JSON is not in canonical form (expected {\"env_vars\":{\"MODE\":\"spaced\"}})", ready.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DefineEnv_ThatTheClientWouldHaveRefused_IsRefusedByTheNodeToo()
    {
        const string json = """{"container":{"image":"localhost/app:1","run_options":["--network=none"]}}""";

        var ready = await SubmitInEnvAsync(HashOf(json), json);

        Assert.Contains("run_options[0] '--network=none' is set by Terrarium itself", ready.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DefineEnv_WithAFieldNoNodePrepares_FailsItsWorkNamingTheField()
    {
        // excludes is spent by the driver when it packages local paths; no node prepares it.
        const string json = """{"excludes":["*.log"]}""";

        var ready = await SubmitInEnvAsync(HashOf(json), json);

        Assert.Equal(ErrorKind.RuntimeEnvSetup, ready.Error.Kind);
        Assert.Equal("excludes", ready.Error.SetupField);
        Assert.Contains("runtime_env field 'excludes' is not supported by node", ready.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LargeResult_StaysOnTheNode_AndIsFetchedInPieces()
    {
        var (channel, node) = _cluster.RawNodeClient();
        using var _ = channel;
        using var session = node.Session();
        await session.RequestStream.WriteAsync(OpenAnd(new ClientRequest { SubmitTask = MakeBytes("t-big", 3) }));

        var ready = await NextObjectReadyAsync(session.ResponseStream).DefaultTimeout();
        Assert.Equal(ObjectReady.ResultOneofCase.StoredLength, ready.ResultCase);

        using var fetch = node.FetchObject(new FetchObjectRequest { ObjectId = "t-big" });
        var pieces = 0;
        var received = 0L;
        while (await fetch.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout())
        {
            pieces++;
            received += fetch.ResponseStream.Current.Data.Length;
        }

        Assert.Equal(ready.StoredLength, received);
        Assert.True(received > 3 << 20, $"the value ({received} bytes) holds 3 MiB and its envelope");
        Assert.True(pieces > 1, "the value comes in pieces");
    }

    [Fact]
    public async Task FetchObject_OfAnObjectTheNodeDoesNotHold_IsNotFound_NamingIt()
    {
        var (channel, node) = _cluster.RawNodeClient();
        using var _ = channel;
        using var fetch = node.FetchObject(new FetchObjectRequest { ObjectId = "never-made" });

        await AssertNotFoundAsync(fetch, "does not hold object 'never-made'");
    }

    [Fact]
    public async Task FetchArgument_OfATaskNoWorkerHas_IsNotFound_NamingIt()
    {
        var (channel, node) = _cluster.RawNodeClient();
        using var _ = channel;
        using var fetch = node.FetchArgument(new FetchArgumentRequest { WorkId = "not-assigned", Index = 0 });

        await AssertNotFoundAsync(fetch, "has task 'not-assigned' with an argument 0");
    }

    [Fact]
    public async Task UploadResult_ForAWorkerTheNodeDidNotStart_IsNotFound()
    {
        var (channel, node) = _cluster.RawNodeClient();
        using var _ = channel;
        using var upload = node.UploadResult(new Grpc.Core.Metadata { { UploadHeaders.WorkerId, "not-a-worker" }, { UploadHeaders.WorkId, "t-1" } });

        await AssertUploadRefusedAsync(upload, Grpc.Core.StatusCode.NotFound, "worker 'not-a-worker' is not one of this node's");
    }

    [Fact]
    public async Task UploadValue_ForASessionTheNodeDoesNotHave_IsNotFound()
    {
        var (channel, node) = _cluster.RawNodeClient();
        using var _ = channel;
        using var upload = node.UploadValue(new Grpc.Core.Metadata { { UploadHeaders.SessionId, "no-such-session" }, { UploadHeaders.ObjectId, "o-1" } });

        await AssertUploadRefusedAsync(upload, Grpc.Core.StatusCode.NotFound, "has no session 'no-such-session'");
    }

    [Fact]
    public async Task UploadValue_WithoutAnObjectId_IsInvalidArgument_NamingTheHeader()
    {
        var (channel, node) = _cluster.RawNodeClient();
        using var _ = channel;
        using var upload = node.UploadValue(new Grpc.Core.Metadata { { UploadHeaders.SessionId, "any-session" } });

        await AssertUploadRefusedAsync(upload, Grpc.Core.StatusCode.InvalidArgument, $"needs the {UploadHeaders.ObjectId} header");
    }

    [Fact]
    public async Task PutObject_AsUploadedWithoutAnUpload_FailsTheTasksThatTakeIt()
    {
        var (channel, node) = _cluster.RawNodeClient();
        using var _ = channel;
        using var session = node.Session();
        await session.RequestStream.WriteAsync(OpenAnd(
            new ClientRequest { Promise = new PromiseObject { ObjectId = "never-uploaded" } },
            new ClientRequest { Put = new PutObject { ObjectId = "never-uploaded", Uploaded = true } },
            new ClientRequest { SubmitTask = Describe("t-describe", "never-uploaded") }));

        var ready = await NextObjectReadyAsync(session.ResponseStream).DefaultTimeout();

        Assert.Equal(ErrorKind.ObjectLost, ready.Error.Kind);
        Assert.Contains("object never-uploaded was put as uploaded, but no upload of it reached node", ready.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PutObject_StoredUnderANameOutsideTheStagingFolder_FailsTheTasksThatTakeIt_NamingWhy()
    {
        var (channel, node) = _cluster.RawNodeClient();
        using var _ = channel;
        using var session = node.Session();
        await session.RequestStream.WriteAsync(OpenAnd(
            new ClientRequest { Promise = new PromiseObject { ObjectId = "escaping" } },
            new ClientRequest { Put = new PutObject { ObjectId = "escaping", Stored = new StoredValue { FileName = "../../etc/passwd", Length = 10 } } },
            new ClientRequest { SubmitTask = Describe("t-describe", "escaping") }));

        var ready = await NextObjectReadyAsync(session.ResponseStream).DefaultTimeout();

        Assert.Equal(ErrorKind.ObjectLost, ready.Error.Kind);
        Assert.Contains("object escaping was put as written to the shared-memory store of node", ready.Error.Message, StringComparison.Ordinal);
        Assert.Contains("'../../etc/passwd' is not the name of a file in the staging folder", ready.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CopyObject_FromANodeTheHeadDoesNotKnow_FailsTheTasksThatTakeIt_NamingTheNode()
    {
        var (channel, node) = _cluster.RawNodeClient();
        using var _ = channel;
        using var session = node.Session();
        await session.RequestStream.WriteAsync(OpenAnd(
            new ClientRequest { Copy = new CopyObject { ObjectId = "copied", FromNodeId = "no-such-node" } },
            new ClientRequest { SubmitTask = Describe("t-describe", "copied") }));

        var ready = await NextObjectReadyAsync(session.ResponseStream).DefaultTimeout();
        Assert.Equal("t-describe", ready.ObjectId);
        Assert.Equal(ErrorKind.ObjectLost, ready.Error.Kind);
        Assert.Contains("object copied could not be copied from node no-such-node", ready.Error.Message, StringComparison.Ordinal);
        Assert.Contains("the head knows no live node 'no-such-node'", ready.Error.Message, StringComparison.Ordinal);
    }

    private static async Task AssertNotFoundAsync(Grpc.Core.AsyncServerStreamingCall<ObjectChunk> fetch, string detail)
    {
        var refused = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => fetch.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());

        Assert.Equal(Grpc.Core.StatusCode.NotFound, refused.StatusCode);
        Assert.Contains(detail, refused.Status.Detail, StringComparison.Ordinal);
    }

    /// <summary>Uploads three bytes and asserts the node's refusal (it may refuse before it reads them).</summary>
    private static async Task AssertUploadRefusedAsync<TReply>(
        Grpc.Core.AsyncClientStreamingCall<ObjectChunk, TReply> upload, Grpc.Core.StatusCode code, string detail)
    {
        try
        {
            await upload.RequestStream.WriteAsync(new ObjectChunk { TotalLength = 3, Data = ByteString.CopyFrom(1, 2, 3) });
            await upload.RequestStream.CompleteAsync();
        }
        catch (Exception e) when (e is Grpc.Core.RpcException or InvalidOperationException)
        {
            // Refused already: the answer says why.
        }

        var refused = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => upload.ResponseAsync.DefaultTimeout());
        Assert.Equal(code, refused.StatusCode);
        Assert.Contains(detail, refused.Status.Detail, StringComparison.Ordinal);
    }

    private static ClientBatch OpenAnd(params ClientRequest[] requests)
    {
        var batch = new ClientBatch { Requests = { new ClientRequest { Open = new OpenSession { JobId = "job-raw", JobCodeDir = AppContext.BaseDirectory } } } };
        batch.Requests.AddRange(requests);
        return batch;
    }

    private static SubmitTask Describe(string taskId, string objectId) => new()
    {
        WorkId = taskId,
        Function = new FunctionDescriptor { Assembly = "Terrarium.IntegrationTests", Type = typeof(MultiNodeTasks).FullName, Method = nameof(MultiNodeTasks.Describe), ParameterTypes = { "System.Byte[]" } },
        Args = { new Arg { ObjectId = objectId } },
        Resources = new ResourceRequest { NumCpus = 1 },
    };

    private static SubmitTask MakeBytes(string taskId, int mebibytes) => new()
    {
        WorkId = taskId,
        Function = new FunctionDescriptor { Assembly = "Terrarium.IntegrationTests", Type = typeof(MultiNodeTasks).FullName, Method = nameof(MultiNodeTasks.MakeBytes), ParameterTypes = { "System.Int32" } },
        Args = { new Arg { Value = ByteString.CopyFrom(MessagePack.MessagePackSerializer.Serialize(mebibytes)) } },
        Resources = new ResourceRequest { NumCpus = 1 },
    };

    private static string HashOf(string json) =>
        Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(json))).ToLowerInvariant();

    /// <summary>Defines an env by hand and submits a task in it; the task's result, which must be an error.</summary>
    private async Task<ObjectReady> SubmitInEnvAsync(string hash, string json)
    {
        var (channel, node) = _cluster.RawNodeClient();
        using var _ = channel;
        using var session = node.Session();
        var submit = new SubmitTask
        {
            WorkId = "t-1",
            Function = new FunctionDescriptor { Assembly = "Terrarium.IntegrationTests", Type = typeof(TestTasks).FullName, Method = nameof(TestTasks.GetEnv), ParameterTypes = { "System.String" } },
            Args = { new Arg { Value = ByteString.CopyFrom(MessagePack.MessagePackSerializer.Serialize("MODE")) } },
            EnvHash = hash,
            Resources = new ResourceRequest { NumCpus = 1 },
        };

        await session.RequestStream.WriteAsync(new ClientBatch
        {
            Requests =
            {
                new ClientRequest { Open = new OpenSession { JobId = "job-raw", JobCodeDir = AppContext.BaseDirectory } },
                new ClientRequest { DefineEnv = new DefineRuntimeEnv { Hash = hash, CanonicalJson = json } },
                new ClientRequest { SubmitTask = submit },
            },
        });

        var ready = await NextObjectReadyAsync(session.ResponseStream).DefaultTimeout();
        Assert.Equal(ObjectReady.ResultOneofCase.Error, ready.ResultCase);
        return ready;
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
