using Google.Protobuf;
using Grpc.Core;
using Terrarium.Protocol;
using Terrarium.Protocol.Transport;

namespace Terrarium.Tests.Protocol.Transport;

public sealed class BatchingWriterTests
{
    [Fact]
    public async Task ManyLargeItems_AreCutIntoBatchesNoLargerThanTheBatchSize_UnlessOneItemIsLargerAlone()
    {
        var stream = new RecordingStream();
        var writer = new BatchingWriter<WorkerEvent, WorkerBatch>(stream, () => new WorkerBatch(), (b, e) => b.Events.Add(e), CancellationToken.None);
        // Queued before the pump can take any: without a size cut they would go as one 15 MiB message.
        stream.Hold.Wait();
        foreach (var size in new[] { 3 << 20, 3 << 20, 3 << 20, 6 << 20, 10 })
        {
            writer.TryWrite(new WorkerEvent { Done = new WorkDone { WorkId = "w", Value = ByteString.CopyFrom(new byte[size]) } });
        }

        stream.Hold.Release();
        writer.Complete();
        await writer.Completion.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(5, stream.Batches.Sum(b => b.Events.Count));
        Assert.All(stream.Batches, b => Assert.True(b.Events.Count == 1 || b.CalculateSize() <= MessageLimits.BatchBytes + 1024, $"a batch of {b.Events.Count} items is {b.CalculateSize()} bytes"));
    }

    private sealed class RecordingStream : IAsyncStreamWriter<WorkerBatch>
    {
        public SemaphoreSlim Hold { get; } = new(1, 1);

        public List<WorkerBatch> Batches { get; } = [];

        public WriteOptions? WriteOptions { get; set; }

        public async Task WriteAsync(WorkerBatch message)
        {
            await Hold.WaitAsync();
            Batches.Add(message);
            Hold.Release();
        }
    }
}
