using Terrarium.Actors;
using Terrarium.Protocol;
using Terrarium.Protocol.Framing;

namespace Terrarium.Worker;

/// <summary>The results going back to one caller of this worker's actor: at once when its connection is idle, batched when busy.</summary>
internal sealed class CallerStream(FramedConnection connection)
{
    private readonly FramedBatchWriter<WorkDone, ActorResultBatch> _results =
        new(Task.FromResult(connection), ActorFrames.Results, () => new ActorResultBatch(), (b, r) => b.Results.Add(r));

    /// <summary>Completes once the results queued so far are written (or the connection failed).</summary>
    public Task Flushed => _results.Completion;

    /// <param name="done">The result.</param>
    /// <param name="last">No other call of the caller is at hand: write it now if the connection is idle; else it waits to be batched.</param>
    public void Reply(WorkDone done, bool last) => _results.TryWrite(done, now: last);

    /// <summary>Whether the caller's connection ended: no one waits for the results of its calls any more.</summary>
    public bool Closed { get; private set; }

    /// <summary>Writes what is queued, then takes no more.</summary>
    public void Close()
    {
        Closed = true;
        _results.Complete();
    }
}
