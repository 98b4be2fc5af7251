using Grpc.Core;
using Terrarium.Protocol;
using Terrarium.Protocol.Hosting;

namespace Terrarium.Worker;

/// <summary>
/// The results going back to one caller of this worker's actor, batched. Knows how many of the
/// caller's calls are still unanswered, so that the stream ends only once each has its result.
/// </summary>
internal sealed class CallerStream
{
    private readonly BatchingWriter<WorkDone, ActorResultBatch> _results;
    private readonly TaskCompletionSource _answered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _unanswered;
    private bool _requestsEnded;

    public CallerStream(IServerStreamWriter<ActorResultBatch> stream, CancellationToken ct) =>
        _results = new BatchingWriter<WorkDone, ActorResultBatch>(stream, () => new ActorResultBatch(), (b, r) => b.Results.Add(r), ct);

    /// <summary>Completes when the caller has ended its requests and every call has its result.</summary>
    public Task Answered => _answered.Task;

    /// <summary>Completes once the results queued so far are written (or the stream failed).</summary>
    public Task Flushed => _results.Completion;

    public void Received() => Interlocked.Increment(ref _unanswered);

    public void Reply(WorkDone done)
    {
        _results.TryWrite(done);
        if (Interlocked.Decrement(ref _unanswered) == 0 && Volatile.Read(ref _requestsEnded))
        {
            _answered.TrySetResult();
        }
    }

    public void RequestsEnded()
    {
        Volatile.Write(ref _requestsEnded, true);
        if (Volatile.Read(ref _unanswered) == 0)
        {
            _answered.TrySetResult();
        }
    }

    /// <summary>Writes what is queued, then ends the stream: the worker is about to exit.</summary>
    public void Close()
    {
        _results.Complete();
        _answered.TrySetResult();
    }
}
