using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Terrarium.Node.Objects;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.RuntimeEnvs.Container;
using Terrarium.Node.Service;
using Terrarium.Node.Sessions;
using Terrarium.Protocol;
using Terrarium.Protocol.LocalFiles;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Node.Workers;

/// <summary>
/// Starts worker processes, connects them to their command streams when they attach, relays their
/// output and reports their exit to their owner. Scheduling decisions belong to the owners.
/// </summary>
internal sealed class WorkerPool(NodeOptions options, ClusterCredentials credentials, LogRelay logs, ObjectStore objects, ILogger<WorkerPool> logger) : IWorkerStarter, IAsyncDisposable
{
    private static readonly TimeSpan EventsAfterExitGrace = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan ExitAfterEventsEndGrace = TimeSpan.FromSeconds(10);
    private readonly ConcurrentDictionary<string, WorkerProcess> _workers = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<WorkerProcess> _warm = new();
    private readonly ConcurrentDictionary<string, Task> _removals = new(StringComparer.Ordinal);
    // Set once a worker has started in a container: the node's stop then looks for leftovers.
    private ContainerLauncher? _containers;
    private readonly SemaphoreSlim _startSlots = new(options.MaxStartingWorkers);
    private int _nextWorker;
    private int _disposed;

    public IEnumerable<WorkerProcess> All => _workers.Values;

    /// <summary>Starts the pre-started workers the node keeps ready.</summary>
    public void Prestart()
    {
        for (var i = 0; i < options.PrestartWorkers; i++)
        {
            StartWarm();
        }
    }

    /// <inheritdoc/>
    public WorkerProcess Start(string jobId, JobCode jobCode, PreparedEnv env, string? actorId, IWorkerOwner owner)
    {
        while (!env.NeedsFreshProcess && _warm.TryDequeue(out var warm))
        {
            if (warm.State != WorkerState.Warm)
            {
                continue;
            }

            bool attached;
            lock (warm)
            {
                warm.Bind(jobId, jobCode, env, actorId, owner);
                attached = warm.IsAttached;
            }

            NodeLog.WorkerTaken(logger, warm.Id, warm.Pid, jobId, env.Hash);
            // Its replacement starts once this one has done its first piece of work: on a small
            // machine a starting process would compete with it for the CPU it needs right now.
            warm.MarkReplacementDue();
            if (attached)
            {
                // Callers hold their own locks while they record the worker; tell its owner afterwards.
                _ = Task.Run(() => Activate(warm));
            }

            return warm;
        }

        return Launch(new WorkerProcess(NewId(), jobId, jobCode, env, actorId, owner));
    }

    private void ReplaceIfTakenFromWarm(WorkerProcess worker)
    {
        if (worker.ClaimReplacement())
        {
            StartWarm();
        }
    }

    private void StartWarm()
    {
        if (_disposed == 0)
        {
            _warm.Enqueue(Launch(new WorkerProcess(NewId(), "", JobCode.None, PreparedEnv.None, null, null) { State = WorkerState.Warm }));
        }
    }

    /// <summary>Tells a worker to warm up the code of the server an actor's worker runs, and on which socket.</summary>
    private const string WarmActorServerVariable = "TERRARIUM_WARM_ACTOR_SERVER";

    private string NewId() => $"{options.NodeId}-w{Interlocked.Increment(ref _nextWorker)}";

    /// <summary>
    /// Registers a worker and starts its process once fewer than <see cref="NodeOptions.MaxStartingWorkers"/>
    /// are starting: a hundred .NET processes starting at once on two cores spin each other to a
    /// crawl (load 500, minutes), while a few at a time each start in a fraction of a second.
    /// </summary>
    private WorkerProcess Launch(WorkerProcess worker)
    {
        _workers[worker.Id] = worker;
        _ = StartProcessAsync(worker);
        return worker;
    }

    private async Task StartProcessAsync(WorkerProcess worker)
    {
        // Never on the caller's thread: callers hold their own locks, and a failed start reports an exit.
        await Task.Yield();
        await _startSlots.WaitAsync().ConfigureAwait(false);
        worker.HoldStartSlot();
        if (worker.KillRequested)
        {
            worker.RecordStderr("stopped before its process started");
            Exited(worker, -1);
            return;
        }

        var id = worker.Id;
        var env = worker.Env;
        var host = options.WorkerHost!;
        var start = new ProcessStartInfo(host.DotnetPath)
        {
            // The token travels on the worker's stdin, never in its environment, which other
            // processes of the user (/proc/<pid>/environ) and the tasks themselves could read.
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = env.WorkingDirectory ?? WorkerDirectory(),
        };
        start.ArgumentList.Add(host.HostAssemblyPath);
        start.ArgumentList.Add("worker");
        start.Environment["TERRARIUM_NODE_ADDRESS"] = options.WorkerEndpoint.ToString();
        start.Environment["TERRARIUM_WORKER_ID"] = id;
        start.Environment.Remove(ClusterToken.EnvironmentVariable);
        if (worker.State == WorkerState.Warm)
        {
            // It may host an actor: let it compile its actor server's code while it waits, on a
            // throwaway socket in the node's private folder.
            start.Environment[WarmActorServerVariable] = Path.Combine(options.SessionDirectory, $"{id}-warm.sock");
        }

        foreach (var (name, value) in env.EnvVars.Where(v => v.Value.Length <= PreparedEnv.MaxValuePassedAtStart))
        {
            start.Environment[name] = value;
        }

        if (env.PathEntries.Count > 0)
        {
            start.Environment["PATH"] = string.Join(Path.PathSeparator, env.PathEntries.Append(start.Environment["PATH"] ?? ""));
        }

        Process process;
        try
        {
            start = env.Launcher?.Wrap(start, worker) ?? start;
            _containers ??= env.Launcher as ContainerLauncher;
            process = Process.Start(start) ?? throw new InvalidOperationException("Process.Start returned null");
            // Two lines, far below a pipe's buffer: this never blocks. Closing leaves user code an empty stdin.
            process.StandardInput.WriteLine(credentials.Token);
            process.StandardInput.WriteLine(credentials.Tls.ToLine());
            // (No key: an actor's worker that serves TCP gets its node's certificate with the actor.)
            process.StandardInput.Close();
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            NodeLog.WorkerStartFailed(logger, id, start.FileName, e.Message);
            worker.RecordStderr($"could not start '{start.FileName}': {e.Message}");
            Exited(worker, -1);
            return;
        }

        if (!worker.SetProcess(process))
        {
            worker.RecordStderr("stopped as its process started");
        }

        NodeLog.WorkerStarted(logger, id, worker.Pid, worker.JobId, env.Hash, worker.ActorId ?? "");
        _ = PumpOutputAsync(worker, process.StandardOutput, stderr: false);
        _ = PumpOutputAsync(worker, process.StandardError, stderr: true);
        _ = MonitorAsync(worker);
    }

    /// <summary>A starting worker is ready, or gone: the next may start.</summary>
    private void StartCompleted(WorkerProcess worker)
    {
        if (worker.ReleaseStartSlot())
        {
            _startSlots.Release();
        }
    }

    /// <summary>Tells a worker that is both attached and bound what it is for, and its owner that it is ready.</summary>
    private void Activate(WorkerProcess worker)
    {
        var env = worker.Env;
        var setup = new WorkerSetup
        {
            NodeId = options.NodeId,
            JobId = worker.JobId,
            JobCodeDir = worker.JobCode.Directory,
            JobCodeUri = worker.JobCode.Uri,
            RuntimeEnvJson = env.CanonicalJson,
            RuntimeEnvHash = env.Hash,
            ActorId = worker.ActorId ?? "",
            HeadAddress = options.Head!.ToString(),
            AssemblyDirectories = { env.AssemblyDirectories },
            EnvVars = { env.EnvVars.ToDictionary() },
            WorkingDirectory = env.WorkingDirectory ?? "",
            PreloadedAssemblies = { env.PreloadedAssemblies.ToDictionary() },
            NativeLibraries = { env.NativeLibraries.ToDictionary() },
            ResolvedNugetPackages = { env.ResolvedNuGetPackages },
            ObjectStoreStaging = objects.Shared?.StagingFor(worker.Id) ?? "",
        };

        worker.Send(new WorkerCommand { Setup = setup });
        worker.Owner!.OnAttached(worker);
    }

    /// <summary>Serves one worker's AttachWorker stream until it ends.</summary>
    /// <summary>Keeps a result a worker uploaded until its WorkDone comes (UploadResult).</summary>
    /// <exception cref="RpcException">The worker is not one of this node's, or the upload broke off.</exception>
    public async Task ReceiveUploadAsync(string workerId, string workId, IAsyncStreamReader<ObjectChunk> chunks, CancellationToken ct)
    {
        if (workId.Length == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"UploadResult needs the {UploadHeaders.WorkId} header"));
        }

        if (!_workers.TryGetValue(workerId, out var worker))
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"worker '{workerId}' is not one of this node's (header {UploadHeaders.WorkerId})"));
        }

        try
        {
            worker.Uploads[workId] = await ObjectChunks.ReadAsync(chunks, ct).ConfigureAwait(false);
        }
        catch (InvalidDataException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"the result of {workId} did not arrive whole: {e.Message}"));
        }
    }

    /// <summary>A WorkDone whose value the worker uploaded, or wrote to the shared-memory store, with that value in it.</summary>
    private WorkDone WithValue(WorkerProcess worker, WorkDone done)
    {
        if (done.ResultCase == WorkDone.ResultOneofCase.Stored)
        {
            return WithStored(worker, done);
        }

        if (done.ResultCase != WorkDone.ResultOneofCase.UploadedLength)
        {
            return done;
        }

        if (worker.Uploads.TryRemove(done.WorkId, out var value) && value.Length == done.UploadedLength)
        {
            done.Value = value;
        }
        else
        {
            done.Error = new TaskError
            {
                Kind = ErrorKind.WorkerCrashed,
                Message = $"worker {worker.Id} reported the result of {done.WorkId} uploaded ({done.UploadedLength} bytes), but the node has no such upload",
            };
        }

        return done;
    }

    private WorkDone WithStored(WorkerProcess worker, WorkDone done)
    {
        var stored = done.Stored;
        try
        {
            // Only from the worker's own staging folder: it cannot hand over what another wrote.
            done.Value = objects.Shared is { } shared
                ? shared.TakeOver(stored, shared.StagingFor(worker.Id))
                : throw new IOException("this node has no shared-memory store");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            done.Error = new TaskError
            {
                Kind = ErrorKind.WorkerCrashed,
                Message = $"worker {worker.Id} reported the result of {done.WorkId} ({stored.Length} bytes) written to the shared-memory store, but the node cannot take it: {e.Message}",
            };
        }

        return done;
    }

    public async Task AttachAsync(IAsyncStreamReader<WorkerBatch> events, IServerStreamWriter<WorkerCommandBatch> commands, ServerCallContext context)
    {
        if (!await events.MoveNext(context.CancellationToken).ConfigureAwait(false) ||
            events.Current.Events.FirstOrDefault()?.Hello is not { } hello)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "a worker's first event must be WorkerHello"));
        }

        if (!_workers.TryGetValue(hello.WorkerId, out var worker) || worker.IsAttached)
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"worker '{hello.WorkerId}' was not started by this node or is attached already"));
        }

        if (worker.ActorId is null)
        {
            // An actor's worker is ready once its actor has started; any other once it is here.
            StartCompleted(worker);
        }

        var writer = new BatchingWriter<WorkerCommand, WorkerCommandBatch>(
            commands, () => new WorkerCommandBatch(), (b, c) => b.Commands.Add(c), context.CancellationToken);
        writer.TryWrite(new WorkerCommand { Welcome = new Welcome() });
        bool bound;
        lock (worker)
        {
            worker.Attach(writer);
            bound = worker.IsBound;
        }

        // A pre-started worker waits, attached, until Start binds it to a job and env.
        if (bound)
        {
            Activate(worker);
        }

        // The call ends when either side is done: the worker's events stop, or the node shut the
        // worker down by completing its commands (which the worker sees as the end of its stream).
        var reading = ReadEventsAsync(worker, events, context.CancellationToken);
        try
        {
            await Task.WhenAny(reading, writer.Completion).ConfigureAwait(false);
        }
        finally
        {
            writer.Complete();
            if (reading is { IsCompletedSuccessfully: true, Result: true })
            {
                // The worker ended its events itself: user code is ending the process, and the
                // worker waits for this call to end to know its last results arrived.
                _ = KillIfStillRunningAsync(worker);
            }
            else if (!writer.Completion.IsCompletedSuccessfully)
            {
                // A worker without its stream is useless: make sure it is gone.
                worker.Kill();
            }
        }
    }

    /// <summary>Kills the job's workers, but for those <paramref name="keep"/> picks.</summary>
    public void KillJob(string jobId, Func<WorkerProcess, bool> keep)
    {
        foreach (var worker in _workers.Values.Where(w => w.JobId == jobId && !keep(w)))
        {
            worker.Kill();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        var exits = new List<Task>();
        foreach (var worker in _workers.Values)
        {
            worker.Kill();
            exits.Add(worker.HasExited.Task);
        }

        await Task.WhenAll(exits).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await Task.WhenAll(_removals.Values).WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_containers is { } containers)
        {
            await containers.RemoveLeftoversAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Handles the worker's events until its stream ends; true if the worker ended it cleanly.</summary>
    private async Task<bool> ReadEventsAsync(WorkerProcess worker, IAsyncStreamReader<WorkerBatch> events, CancellationToken ct)
    {
        try
        {
            await foreach (var batch in events.ReadAllAsync(ct).ConfigureAwait(false))
            {
                ReplaceIfTakenFromWarm(worker);
                foreach (var e in batch.Events)
                {
                    switch (e.KindCase)
                    {
                        case WorkerEvent.KindOneofCase.Done:
                            worker.Owner!.OnDone(worker, WithValue(worker, e.Done));
                            break;
                        case WorkerEvent.KindOneofCase.ActorStarted:
                            StartCompleted(worker);
                            worker.Owner!.OnActorStarted(worker, e.ActorStarted);
                            break;
                        case WorkerEvent.KindOneofCase.Returned:
                            worker.Owner!.OnReturned(worker, e.Returned);
                            break;
                    }
                }
            }

            return true;
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or RpcException)
        {
            // The worker went away; MonitorAsync reports the exit.
            worker.Kill();
            return false;
        }
        finally
        {
            worker.EventsRead.TrySetResult();
        }
    }

    private static async Task KillIfStillRunningAsync(WorkerProcess worker)
    {
        await worker.HasExited.Task.WaitAsync(ExitAfterEventsEndGrace).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        worker.Kill();
    }

    private string WorkerDirectory()
    {
        return PrivateDirectory.Create(Path.Combine(options.SessionDirectory, "workers"));
    }

    private async Task MonitorAsync(WorkerProcess worker)
    {
        var process = worker.Process!;
        using var startTimeout = new CancellationTokenSource(options.WorkerStartTimeout);
        using var killIfNotAttached = startTimeout.Token.Register(() =>
        {
            if (!worker.IsAttached)
            {
                worker.RecordStderr($"the worker did not attach within {options.WorkerStartTimeout}; killed");
                worker.Kill();
            }
        });
        await process.WaitForExitAsync().ConfigureAwait(false);
        if (worker.IsAttached)
        {
            // Results the worker sent just before it died may still be in the socket; a task that
            // finished must not be charged with the crash of the one after it.
            await worker.EventsRead.Task.WaitAsync(EventsAfterExitGrace).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        Exited(worker, process.ExitCode);
    }

    private void Exited(WorkerProcess worker, int exitCode)
    {
        if (worker.Env.Launcher is { } launcher)
        {
            // Whatever the worker ran in goes with it: a container never outlives its worker.
            var removal = launcher.RemoveAsync(worker);
            _removals[worker.Id] = removal;
            _ = removal.ContinueWith(_ => _removals.TryRemove(worker.Id, out var _), TaskScheduler.Default);
        }

        StartCompleted(worker);
        _workers.TryRemove(worker.Id, out _);
        // What it wrote and never handed over goes with it.
        objects.Shared?.RemoveStagingOf(worker.Id);
        worker.Shutdown();
        NodeLog.WorkerExited(logger, worker.Id, worker.Pid, exitCode);
        IWorkerOwner? owner;
        lock (worker)
        {
            owner = worker.Owner;
            if (owner is null)
            {
                // A pre-started worker died before anyone took it: nobody waits on it.
                worker.State = WorkerState.Dead;
            }
        }

        owner?.OnExited(worker, exitCode);
        worker.HasExited.TrySetResult();
        ReplaceIfTakenFromWarm(worker);
    }

    private async Task PumpOutputAsync(WorkerProcess worker, StreamReader reader, bool stderr)
    {
        var logPath = Path.Combine(options.SessionDirectory, "logs", $"{worker.Id}.{(stderr ? "err" : "out")}");
        PrivateDirectory.Create(Path.GetDirectoryName(logPath)!);
        var fileOptions = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read };
        if (!OperatingSystem.IsWindows())
        {
            fileOptions.UnixCreateMode = PrivateDirectory.OwnerReadWrite;
        }

        await using var file = new StreamWriter(logPath, System.Text.Encoding.UTF8, fileOptions) { AutoFlush = true };
        while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            await file.WriteLineAsync(line).ConfigureAwait(false);
            if (stderr)
            {
                worker.RecordStderr(line);
            }

            logs.Publish(worker.JobId, new LogLines { WorkerId = worker.Id, Pid = worker.Pid, Stderr = stderr, Lines = { line } });
        }
    }
}
