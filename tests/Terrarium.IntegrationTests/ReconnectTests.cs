using System.Diagnostics;

namespace Terrarium.IntegrationTests;

/// <summary>
/// A driver whose TCP connection to its node breaks (cut by the kernel with <c>ss -K</c>, as a
/// network failure would) resumes its session: nothing pending is lost, nothing is run twice.
/// </summary>
public sealed class ReconnectTests : IAsyncLifetime
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(3);
    private readonly string _scratch = Directory.CreateTempSubdirectory("terrarium-reconnect-").FullName;
    private StandaloneCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await StandaloneCluster.StartAsync(Grace);

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        Directory.Delete(_scratch, recursive: true);
    }

    [SkippableFact]
    public async Task ConnectionToTheNodeCut_SessionResumes_WithRunningQueuedAndNewWorkIntact()
    {
        Requirements.Tool("ss", "it cuts TCP connections the way a network failure does (Debian: iproute2)");
        await using var cluster = await Cluster.InitAsync(_cluster.DriverOptions).DefaultTimeout();
        var gate = Path.Combine(_scratch, "gate");
        var marks = Path.Combine(_scratch, "marks");
        var running = cluster.Submit(() => TestTasks.WaitForFile(gate, 7));
        var queued = cluster.Submit(() => CancelTasks.Mark(marks));

        CutConnectionsTo(_cluster.NodeTcp.Port);
        var submittedWhileCut = cluster.Submit(() => TestTasks.Square(6));
        File.WriteAllText(gate, "");

        Assert.Equal(7, await running.DefaultTimeout());
        Assert.Equal(1, await queued.DefaultTimeout());
        Assert.Equal(36, await submittedWhileCut.DefaultTimeout());
        Assert.Single(File.ReadAllLines(marks));

        CutConnectionsTo(_cluster.NodeTcp.Port);
        Assert.Equal(64, await cluster.Submit(() => TestTasks.Square(8)).DefaultTimeout());
        var counter = cluster.CreateActor(() => new Counter(1));
        Assert.Equal(2, await counter.Call(c => c.Increment(1)).DefaultTimeout());
    }

    [Fact]
    public async Task BrokenSession_IsKeptForTheGrace_ThenEnded_AndCannotBeResumed()
    {
        var (channel, node) = _cluster.RawNodeClient();
        using var _ = channel;
        var open = new Protocol.OpenSession { JobId = "job-reconnect", JobCodeDir = AppContext.BaseDirectory };
        string sessionId;
        using (var first = node.Session())
        {
            // The session holds an object: the node drops it when the session ends.
            var put = new Protocol.ClientRequest { Put = new Protocol.PutObject { ObjectId = "held", Value = Google.Protobuf.ByteString.CopyFrom(1, 2, 3) } };
            await first.RequestStream.WriteAsync(new Protocol.ClientBatch { Requests = { new Protocol.ClientRequest { Open = open }, put } });
            Assert.True(await first.ResponseStream.MoveNext(CancellationToken.None));
            sessionId = first.ResponseStream.Current.Events[0].Opened.SessionId;
            await TestWaits.UntilAsync(async () => await ObjectsOnNodeAsync(node) == 1, "the put to be stored");
        }

        // Disposed without ending its requests: to the node, a broken stream. Resumed within the grace,
        // with the count of requests it had handled:
        var resumed = await OpenAsync(node, open, sessionId);
        Assert.Equal(sessionId, resumed.SessionId);
        Assert.Equal(1, resumed.RequestsHandled);
        Assert.Equal(1, await ObjectsOnNodeAsync(node));

        // Broken again and left alone: past the grace the node ends it, and it cannot be resumed.
        await TestWaits.UntilAsync(async () => await ObjectsOnNodeAsync(node) == 0, "the node to end the abandoned session");
        var error = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => OpenAsync(node, open, sessionId));
        Assert.Equal(Grpc.Core.StatusCode.NotFound, error.StatusCode);
        Assert.Contains($"session '{sessionId}' of job 'job-reconnect' is over", error.Status.Detail, StringComparison.Ordinal);
    }

    private static async Task<int> ObjectsOnNodeAsync(Protocol.Node.NodeClient node) =>
        (await node.GetStatusAsync(new Protocol.GetStatusRequest())).Objects;

    private static async Task<Protocol.SessionOpened> OpenAsync(Protocol.Node.NodeClient node, Protocol.OpenSession open, string sessionId)
    {
        var resume = open.Clone();
        resume.ResumeSessionId = sessionId;
        using var call = node.Session();
        await call.RequestStream.WriteAsync(new Protocol.ClientBatch { Requests = { new Protocol.ClientRequest { Open = resume } } });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        return call.ResponseStream.Current.Events[0].Opened;
    }

    /// <summary>Destroys every TCP socket on this machine connected to <paramref name="port"/>, as a broken network would.</summary>
    private static void CutConnectionsTo(int port)
    {
        using var ss = Process.Start(new ProcessStartInfo("ss", ["-K", "dst", "127.0.0.1", "dport", "=", $":{port}"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = ss.StandardOutput.ReadToEnd() + ss.StandardError.ReadToEnd();
        ss.WaitForExit();
        Assert.True(ss.ExitCode == 0 && output.Contains($":{port}", StringComparison.Ordinal), $"ss -K cut nothing: {output}");
    }
}
