using Grpc.Core;
using Terrarium.Protocol;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;
using Terrarium.Worker;

namespace Terrarium.Tests.Client.Worker;

/// <summary>An actor worker's gRPC server, run for real on a Unix socket, refusing what it must.</summary>
public sealed class ActorServerTests : IAsyncLifetime
{
    private const string Token = "test-token";
    private static readonly ClusterCredentials Credentials = ClusterCredentials.UnixOnly(Token);
    private const string ActorId = "job/actor-1";
    private readonly string _socket = Path.Combine(Path.GetTempPath(), $"t-{Guid.NewGuid():N}"[..14] + ".sock");
    private ActorServer? _server;

    public async Task InitializeAsync() => _server = await ActorServer.StartAsync(ActorId, "unix:" + _socket, Credentials, Echo, _ => { }, CancellationToken.None);

    public Task DisposeAsync()
    {
        _server!.CloseWithin(Task.Delay(TimeSpan.FromSeconds(5)));
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Calls_AnsweredInTheOrderSent()
    {
        var results = await CallAsync(Token, ActorId, Enumerable.Range(0, 50).Select(i => Call($"c{i}")).ToArray());

        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"c{i}"), results.Select(r => r.WorkId));
    }

    [Fact]
    public async Task Calls_NoMethod_AnsweredWithAnInvalidRequestError_AndLaterCallsStillRun()
    {
        var results = await CallAsync(Token, ActorId, new ActorCall { WorkId = "bad" }, Call("good"));

        Assert.Equal(ErrorKind.InvalidRequest, results[0].Error.Kind);
        Assert.Contains("names no method", results[0].Error.Message, StringComparison.Ordinal);
        Assert.Equal("good", results[1].WorkId);
        Assert.Null(results[1].Error);
    }

    [Fact]
    public async Task Calls_ForAnotherActor_RefusedAsNotFound()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => CallAsync(Token, "job/actor-2", Call("c")));

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Contains(ActorId, error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Calls_WrongToken_Refused()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => CallAsync("wrong", ActorId, Call("c")));

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    [Fact]
    public async Task StartAsync_OnTcpPortZero_ServesOnThePortItReports()
    {
        using var authority = ClusterCertificateAuthority.CreateEphemeral();
        var trust = ClusterTls.Trusting([authority.Certificate]);
        var server = await ActorServer.StartAsync(ActorId, "127.0.0.1:0", new ClusterCredentials(Token, trust.WithServerCertificate(authority.IssueWithNewKey("node", ["127.0.0.1"]))),
            Echo, _ => { }, CancellationToken.None);
        try
        {
            var address = Endpoint.Parse(server.Address);
            Assert.NotEqual(0, address.Port);

            var results = await CallAsync(address, new ClusterCredentials(Token, trust), ActorId, Call("over-tcp"));

            Assert.Equal("over-tcp", Assert.Single(results).WorkId);
        }
        finally
        {
            server.CloseWithin(Task.Delay(TimeSpan.FromSeconds(5)));
        }
    }

    [Fact]
    public async Task StartAsync_SocketPathTooLong_ThrowsWhatTheWorkerReportsAsAFailedStart()
    {
        var tooLong = "unix:" + Path.Combine(Path.GetTempPath(), new string('s', 200) + ".sock");

        // The worker turns exactly these into an ActorStarted error (WorkExecutor.StartActorAsync).
        var error = await Record.ExceptionAsync(() => ActorServer.StartAsync(ActorId, tooLong, Credentials, Echo, _ => { }, CancellationToken.None));

        Assert.True(WorkExecutor.IsServerStartFailure(error!), $"unexpected {error}");
    }

    private static Task<WorkDone> Echo(ActorCall call) => Task.FromResult(new WorkDone { WorkId = call.WorkId, Value = Google.Protobuf.ByteString.Empty });

    private static ActorCall Call(string id) => new() { WorkId = id, Method = new FunctionDescriptor { Type = "T", Method = "M" } };

    private Task<List<WorkDone>> CallAsync(string token, string actorId, params ActorCall[] calls) =>
        CallAsync(Endpoint.UnixSocket(_socket), ClusterCredentials.UnixOnly(token), actorId, calls);

    private static async Task<List<WorkDone>> CallAsync(Endpoint server, ClusterCredentials credentials, string actorId, params ActorCall[] calls)
    {
        var (channel, invoker) = ClusterChannel.Open(server, credentials);
        using (channel)
        {
            using var call = new ActorWorker.ActorWorkerClient(invoker).Calls(new Metadata { { ActorCallService.ActorHeader, actorId } });
            try
            {
                await call.RequestStream.WriteAsync(new ActorCallBatch { Calls = { calls } });
                await call.RequestStream.CompleteAsync();
            }
            catch (Exception e) when (e is RpcException or InvalidOperationException)
            {
                // The server may refuse the call before it reads it; its answer is in the response.
            }

            var results = new List<WorkDone>();
            await foreach (var batch in call.ResponseStream.ReadAllAsync())
            {
                results.AddRange(batch.Results);
            }

            return results;
        }
    }
}
