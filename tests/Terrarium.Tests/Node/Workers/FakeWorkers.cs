using System.Threading.Channels;
using Grpc.Core;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.Sessions;
using Terrarium.Node.Workers;
using Terrarium.Protocol;
using Terrarium.Protocol.Transport;

namespace Terrarium.Tests.Node.Workers;

/// <summary>
/// Hands out worker records, with no process behind them, in the order an owner asks for them: the
/// test attaches, finishes and ends them as a worker would.
/// </summary>
internal sealed class FakeWorkerStarter : IWorkerStarter
{
    private readonly Channel<FakeWorker> _started = Channel.CreateUnbounded<FakeWorker>();
    private int _count;

    /// <summary>Workers started and not yet taken by <see cref="NextAsync"/>.</summary>
    public int Pending => _started.Reader.Count;

    public WorkerProcess Start(string jobId, JobCode jobCode, PreparedEnv env, string? actorId, IWorkerOwner owner)
    {
        var process = new WorkerProcess($"w{Interlocked.Increment(ref _count)}", jobId, jobCode, env, actorId, owner);
        Assert.True(_started.Writer.TryWrite(new FakeWorker(process)));
        return process;
    }

    public async Task<FakeWorker> NextAsync() => await _started.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
}

/// <summary>A worker record and the commands its owner sent it, in order.</summary>
internal sealed class FakeWorker(WorkerProcess process)
{
    private readonly RecordingStream<WorkerCommandBatch, WorkerCommand> _stream = new(b => b.Commands);

    public WorkerProcess Process { get; } = process;

    public BatchingWriter<WorkerCommand, WorkerCommandBatch>? Commands { get; private set; }

    /// <summary>Connects its command stream, as a worker does once it has started.</summary>
    public void Connect() => Process.Attach(Commands = new(_stream, () => new WorkerCommandBatch(), (b, c) => b.Commands.Add(c), CancellationToken.None));

    public Task<WorkerCommand> NextCommandAsync() => _stream.NextAsync();

    /// <summary>The ids of the next <paramref name="count"/> tasks it was told to run.</summary>
    public async Task<List<string>> ExecutedAsync(int count)
    {
        var ids = new List<string>();
        while (ids.Count < count)
        {
            var command = await NextCommandAsync();
            Assert.Equal(WorkerCommand.KindOneofCase.Execute, command.KindCase);
            ids.Add(command.Execute.WorkId);
        }

        return ids;
    }
}

/// <summary>A gRPC stream that keeps the items of the batches written to it, for a test to read in order.</summary>
internal sealed class RecordingStream<TBatch, TItem>(Func<TBatch, IEnumerable<TItem>> items) : IServerStreamWriter<TBatch>
{
    private readonly Channel<TItem> _received = Channel.CreateUnbounded<TItem>();

    public WriteOptions? WriteOptions { get; set; }

    public Task WriteAsync(TBatch message)
    {
        foreach (var item in items(message))
        {
            _received.Writer.TryWrite(item);
        }

        return Task.CompletedTask;
    }

    public async Task<TItem> NextAsync() => await _received.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
}
