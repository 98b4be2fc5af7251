using System.Collections.Concurrent;
using Terrarium.Actors;
using Terrarium.Protocol;
using Terrarium.Protocol.Framing;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;
using Terrarium.Worker;

namespace Terrarium.Tests.Client.Worker;

/// <summary>
/// An actor worker's server and a caller's connection to it, run for real on framed connections
/// (Unix socket, and TCP with TLS): order, refusals, cancels on their own connection.
/// </summary>
public sealed class ActorServerTests : IDisposable
{
    private const string Token = "test-token";
    private static readonly ClusterCredentials Credentials = ClusterCredentials.UnixOnly(Token);
    private const string ActorId = "job/actor-1";
    private readonly string _socket = Path.Combine(Path.GetTempPath(), $"t-{Guid.NewGuid():N}"[..14] + ".sock");
    private readonly ConcurrentQueue<string> _cancelled = new();
    private readonly TaskCompletionSource _cancelArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ActorServer _server;

    public ActorServerTests() => _server = ActorServer.Start(ActorId, "unix:" + _socket, Credentials, Echo, callId =>
    {
        _cancelled.Enqueue(callId);
        _cancelArrived.TrySetResult();
    });

    public void Dispose() => _server.CloseWithin(Task.Delay(TimeSpan.FromSeconds(5)));

    [Fact]
    public async Task Calls_AnsweredInTheOrderSent()
    {
        var results = await CallAsync(Endpoint.UnixSocket(_socket), Credentials, 50, Enumerable.Range(0, 50).Select(i => Call($"c{i}")).ToArray());

        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"c{i}"), results.Select(r => r.WorkId));
    }

    [Fact]
    public async Task Calls_NoMethod_AnsweredWithAnInvalidRequestError_AndLaterCallsStillRun()
    {
        var results = await CallAsync(Endpoint.UnixSocket(_socket), Credentials, 2, new ActorCall { WorkId = "bad" }, Call("good"));

        Assert.Equal(ErrorKind.InvalidRequest, results[0].Error.Kind);
        Assert.Contains("names no method", results[0].Error.Message, StringComparison.Ordinal);
        Assert.Equal("good", results[1].WorkId);
        Assert.Null(results[1].Error);
    }

    [Fact]
    public async Task Caller_NamingAnotherActor_IsRefusedWithWhoseWorkerItIs_ThenClosed()
    {
        await using var connection = await ActorFrames.OpenAsync([Endpoint.UnixSocket(_socket)], Credentials, "job/actor-2", CancellationToken.None);

        var refusal = await connection.ReadAsync();

        Assert.Equal(ActorFrames.Refused, refusal!.Value.Type);
        Assert.Equal($"this worker hosts actor '{ActorId}', not 'job/actor-2'", ActorFrames.Text(refusal.Value));
        Assert.Null(await connection.ReadAsync());
    }

    [Fact]
    public async Task Caller_WithoutTheToken_GetsNoFurtherThanTheHandshake()
    {
        var error = await Assert.ThrowsAsync<FrameHandshakeException>(() =>
            ActorFrames.OpenAsync([Endpoint.UnixSocket(_socket)], ClusterCredentials.UnixOnly("wrong"), ActorId, CancellationToken.None));

        Assert.Contains("does not hold the cluster token", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancel_TravelsOnAConnectionOfItsOwn_AndReachesTheActorsWorker()
    {
        await using var caller = new ActorConnection([Endpoint.UnixSocket(_socket)], Credentials, ActorId, _ => { }, _ => { });

        await caller.CancelAsync("c7", CancellationToken.None);
        await _cancelArrived.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(["c7"], _cancelled);
    }

    [Fact]
    public async Task Cancel_IsAnswered_OnceTheWorkerHoldsIt()
    {
        await using var connection = await ActorFrames.OpenAsync([Endpoint.UnixSocket(_socket)], Credentials, ActorId, CancellationToken.None);

        await connection.SendAsync(ActorFrames.Cancel, new CancelActorCalls { WorkIds = { "c8", "c9" } }, CancellationToken.None);
        var answer = await connection.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(ActorFrames.Cancelled, answer!.Value.Type);
        Assert.Equal(["c8", "c9"], _cancelled);
    }

    [Fact]
    public async Task Start_OnTcpPortZero_ServesTlsOnThePortItReports()
    {
        using var authority = ClusterCertificateAuthority.CreateEphemeral();
        var trust = ClusterTls.Trusting([authority.Certificate]);
        var server = ActorServer.Start(ActorId, "127.0.0.1:0", new ClusterCredentials(Token, trust.WithServerCertificate(authority.IssueWithNewKey("node", ["127.0.0.1"]))),
            Echo, _ => { });
        try
        {
            var address = Endpoint.Parse(server.Address);
            Assert.NotEqual(0, address.Port);

            var results = await CallAsync(address, new ClusterCredentials(Token, trust), 1, Call("over-tcp"));

            Assert.Equal("over-tcp", Assert.Single(results).WorkId);
        }
        finally
        {
            server.CloseWithin(Task.Delay(TimeSpan.FromSeconds(5)));
        }
    }

    [Fact]
    public void Start_SocketPathTooLong_ThrowsWhatTheWorkerReportsAsAFailedStart()
    {
        var tooLong = "unix:" + Path.Combine(Path.GetTempPath(), new string('s', 200) + ".sock");

        // The worker turns exactly these into an ActorStarted error (WorkExecutor.StartActorAsync).
        var error = Record.Exception(() => ActorServer.Start(ActorId, tooLong, Credentials, Echo, _ => { }));

        Assert.True(WorkExecutor.IsServerStartFailure(error!), $"unexpected {error}");
    }

    private static Task<WorkDone> Echo(ActorCall call) => Task.FromResult(new WorkDone { WorkId = call.WorkId, Value = Google.Protobuf.ByteString.Empty });

    private static ActorCall Call(string id) => new() { WorkId = id, Method = new FunctionDescriptor { Type = "T", Method = "M" } };

    /// <summary>Sends <paramref name="calls"/> through a caller's connection and returns the first <paramref name="expected"/> results.</summary>
    private static async Task<List<WorkDone>> CallAsync(Endpoint server, ClusterCredentials credentials, int expected, params ActorCall[] calls)
    {
        var results = new List<WorkDone>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var caller = new ActorConnection([server], credentials, ActorId, result =>
        {
            lock (results)
            {
                results.Add(result);
                if (results.Count == expected)
                {
                    all.TrySetResult();
                }
            }
        }, _ => all.TrySetException(new IOException("the connection ended first")));
        foreach (var call in calls)
        {
            Assert.True(caller.TrySend(call));
        }

        await all.Task.WaitAsync(TimeSpan.FromSeconds(30));
        return results;
    }
}
