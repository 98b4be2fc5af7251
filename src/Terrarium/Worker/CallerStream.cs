using Grpc.Core;
using Terrarium.Protocol;
using Terrarium.Protocol.Transport;

namespace Terrarium.Worker;

/// <summary>The results going back to one caller of this worker's actor, batched.</summary>
internal sealed class CallerStream(IServerStreamWriter<ActorResultBatch> stream, CancellationToken ct)
{
    private readonly BatchingWriter<WorkDone, ActorResultBatch> _results =
        new(stream, () => new ActorResultBatch(), (b, r) => b.Results.Add(r), ct);

    /// <summary>Completes once the results queued so far are written (or the stream failed).</summary>
    public Task Flushed => _results.Completion;

    public void Reply(WorkDone done) => _results.TryWrite(done);

    /// <summary>Writes what is queued, then ends the stream.</summary>
    public void Close() => _results.Complete();
}
