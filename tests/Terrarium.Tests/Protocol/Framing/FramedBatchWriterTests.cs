using System.Buffers;
using Terrarium.Protocol;
using Terrarium.Protocol.Framing;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Tests.Protocol.Framing;

/// <summary>
/// Batches on a real framed connection: what queues while the connection is busy (here: still
/// opening) leaves as one frame, cut by size; completion and failure end the writer.
/// </summary>
public sealed class FramedBatchWriterTests : IAsyncLifetime
{
    private const string Token = "batch-writer-tests";
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("terrarium-batches-");
    private readonly TaskCompletionSource<FramedConnection> _server = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly FramedListener _listener;

    public FramedBatchWriterTests() => _listener = FramedListener.Start(Endpoint.UnixSocket(Path.Combine(_folder.FullName, "b.sock")),
        ClusterCredentials.UnixOnly(Token), MessageLimits.MaxMessageBytes, async (connection, ct) =>
        {
            _server.TrySetResult(connection);
            await Task.Delay(Timeout.Infinite, ct);
        });

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _listener.DisposeAsync();
        _folder.Delete(recursive: true);
    }

    [Fact]
    public async Task ItemsQueuedWhileTheConnectionIsBusy_LeaveAsOneFrame_InOrder()
    {
        var opening = new TaskCompletionSource<FramedConnection>();
        var writer = Writer(opening.Task);
        for (var i = 0; i < 100; i++)
        {
            Assert.True(writer.TryWrite(Call($"c{i}", 10), now: i == 0));
        }

        await using var client = await ConnectAsync();
        opening.SetResult(client);
        var server = await _server.Task.WaitAsync(TimeSpan.FromSeconds(30));

        var batch = await NextBatchAsync(server);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"c{i}"), batch.Calls.Select(c => c.WorkId));
    }

    [Fact]
    public async Task Batch_IsCutBySize_AndALargeItemTravelsAlone()
    {
        var opening = new TaskCompletionSource<FramedConnection>();
        var writer = Writer(opening.Task);
        var third = MessageLimits.BatchBytes / 3;
        foreach (var (id, bytes) in new[] { ("a", third), ("b", third), ("c", third), ("big", MessageLimits.BatchBytes + 1), ("d", 10) })
        {
            writer.TryWrite(Call(id, bytes), now: false);
        }

        await using var client = await ConnectAsync();
        opening.SetResult(client);
        var server = await _server.Task.WaitAsync(TimeSpan.FromSeconds(30));

        var frames = new List<string[]>();
        while (frames.Sum(f => f.Length) < 5)
        {
            frames.Add((await NextBatchAsync(server)).Calls.Select(c => c.WorkId).ToArray());
        }

        Assert.Equal([["a", "b"], ["c"], ["big"], ["d"]], frames);
    }

    [Fact]
    public async Task Completed_WritesWhatIsQueued_ThenTakesNoMore_AndAFailedConnectionFaultsIt()
    {
        var opening = new TaskCompletionSource<FramedConnection>();
        var writer = Writer(opening.Task);
        writer.TryWrite(Call("last", 10), now: true);
        writer.Complete();
        Assert.False(writer.TryWrite(Call("too late", 10), now: true));

        await using var client = await ConnectAsync();
        opening.SetResult(client);
        await writer.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("last", Assert.Single((await NextBatchAsync(await _server.Task)).Calls).WorkId);

        var failing = Writer(Task.FromException<FramedConnection>(new IOException("it never opened")));
        failing.TryWrite(Call("lost", 10), now: true);
        var error = await Assert.ThrowsAsync<IOException>(() => failing.Completion.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("it never opened", error.Message);
        Assert.False(failing.TryWrite(Call("after", 10), now: true));
    }

    private static FramedBatchWriter<ActorCall, ActorCallBatch> Writer(Task<FramedConnection> connection) =>
        new(connection, 3, () => new ActorCallBatch(), (b, c) => b.Calls.Add(c));

    private Task<FramedConnection> ConnectAsync() =>
        FramedClient.ConnectAsync(_listener.Endpoint, ClusterCredentials.UnixOnly(Token), MessageLimits.MaxMessageBytes, CancellationToken.None);

    private static ActorCall Call(string id, int bytes) =>
        new() { WorkId = id, Method = new FunctionDescriptor { Method = "M" }, Args = { Google.Protobuf.ByteString.CopyFrom(new byte[bytes]) } };

    private static async Task<ActorCallBatch> NextBatchAsync(FramedConnection server)
    {
        var frame = await server.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(3, frame!.Value.Type);
        return ActorCallBatch.Parser.ParseFrom(frame.Value.Payload);
    }
}
