using Google.Protobuf;
using Grpc.Core;
using Terrarium.Actors;
using Terrarium.Protocol;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.SharedMemory;
using Terrarium.Protocol.Transport;

namespace Terrarium.Worker;

/// <summary>Runs a worker's tasks or actor calls one at a time, in the order they arrive.</summary>
internal sealed class WorkExecutor
{
    private readonly BatchingWriter<WorkerEvent, WorkerBatch> _events;
    private readonly FunctionInvoker _invoker;
    private readonly Protocol.Node.NodeClient _node;
    private readonly string _workerId;
    private readonly ClusterCredentials _credentials;
    // The node's shared-memory staging folder, when this worker can see it (a container may not).
    private readonly string? _staging;
    private object? _actor;

    public WorkExecutor(WorkerSetup setup, Endpoint node, Protocol.Node.NodeClient nodeClient, string workerId, ClusterCredentials credentials, BatchingWriter<WorkerEvent, WorkerBatch> events)
    {
        _events = events;
        _node = nodeClient;
        _workerId = workerId;
        _credentials = credentials;
        _staging = setup.ObjectStoreStaging is { Length: > 0 } staging && Directory.Exists(staging) ? staging : null;
        ProcessEnvironment.Apply(setup.EnvVars, setup.WorkingDirectory);
        var env = setup.RuntimeEnvJson.Length > 0 ? RuntimeEnv.FromJson(setup.RuntimeEnvJson) : null;
        var context = new JobLoadContext(setup.PreloadedAssemblies, setup.NativeLibraries, setup.AssemblyDirectories, setup.JobCodeDir);
        _invoker = new FunctionInvoker(context);
        RuntimeContext.WorkerContext = new RuntimeContext(setup.JobId, setup.NodeId, workerId, setup.ActorId.Length > 0 ? setup.ActorId : null, env)
        {
            NuGetPackages = setup.ResolvedNugetPackages.Select(p => new NuGetPackageInfo(p.Id, p.Version, p.Assets.ToList())).ToList(),
        };
        var head = Endpoint.Parse(setup.HeadAddress);
        // Cluster.Current is a property: the worker's own connection is opened on its first use.
        Cluster.SetWorkerClusterFactory(() => Cluster.ConnectWorkerAsync(
            node, head, credentials, setup.JobId, setup.JobCodeDir, setup.JobCodeUri, workerId, env, CancellationToken.None).GetAwaiter().GetResult());
    }

    /// <summary>The server of this worker's actor, once it has one.</summary>
    public ActorServer? ActorServer { get; private set; }

    /// <summary>The tokens of the work running here, for cancel requests.</summary>
    public CancellationRegistry Cancellations { get; } = new();

    public async Task RunAsync(WorkQueue work)
    {
        while (await work.TakeAsync().ConfigureAwait(false) is { } command)
        {
            if (command.Execute is { } execute)
            {
                var done = execute.FetchArgs.Count == 0
                    ? await RunAsync(execute.WorkId, execute.Function, execute.Args, null).ConfigureAwait(false)
                    : await FetchArgsThenRunAsync(execute).ConfigureAwait(false);
                if (done.ResultCase == WorkDone.ResultOneofCase.Value && done.Value.Length > MessageLimits.InlineValueBytes && !TryStore(done))
                {
                    if (done.Value.Length > MessageLimits.MaxValueBytes)
                    {
                        done.Error = TooLargeForUpload(execute, done.Value.Length);
                    }
                    else
                    {
                        await UploadAsync(done).ConfigureAwait(false);
                    }
                }

                _events.TryWrite(new WorkerEvent { Done = done });
            }
            else if (command.StartActor is { } start)
            {
                await StartActorAsync(start).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Maps or fetches the arguments too large to come with the task, then runs it.</summary>
    private async Task<WorkDone> FetchArgsThenRunAsync(Execute execute)
    {
        var args = execute.Args.ToArray();
        foreach (var index in execute.FetchArgs)
        {
            if (MapStoredArg(execute, index) is { } mapped && index >= 0 && index < args.Length)
            {
                args[index] = mapped;
                continue;
            }

            try
            {
                using var call = _node.FetchArgument(new FetchArgumentRequest { WorkId = execute.WorkId, Index = index });
                var value = await ObjectChunks.ReadAsync(call.ResponseStream, CancellationToken.None).ConfigureAwait(false);
                if (index >= 0 && index < args.Length)
                {
                    args[index] = value;
                }
            }
            catch (Exception e) when (e is RpcException or InvalidDataException)
            {
                return ArgumentLost(execute, index, e is RpcException rpc ? rpc.Status.Detail : e.Message);
            }
        }

        return await RunAsync(execute.WorkId, execute.Function, args, null).ConfigureAwait(false);
    }

    /// <summary>An argument of the node's shared-memory store, mapped; null when it is not in it, or not visible here.</summary>
    private static ByteString? MapStoredArg(Execute execute, int index)
    {
        if (execute.StoredArgs.FirstOrDefault(a => a.Index == index) is not { } stored)
        {
            return null;
        }

        try
        {
            return MappedValue.Map(stored.Path, stored.Length);
        }
        catch (IOException)
        {
            // A container without the store mounted, or the file of another user: the node sends it.
            return null;
        }
    }

    /// <summary>
    /// Writes a result too large for its WorkDone into the node's shared-memory store; the WorkDone
    /// then names its file. False when this worker has no store, or it is full: then it is uploaded.
    /// </summary>
    private bool TryStore(WorkDone done)
    {
        if (_staging is null)
        {
            return false;
        }

        try
        {
            done.Stored = StagedValue.Write(_staging, done.Value);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Sends a result too large for its WorkDone to the node in pieces; the WorkDone then carries its length.</summary>
    private async Task UploadAsync(WorkDone done)
    {
        var value = done.Value;
        try
        {
            using var call = _node.UploadResult(new Metadata { { UploadHeaders.WorkerId, _workerId }, { UploadHeaders.WorkId, done.WorkId } });
            await ObjectChunks.WriteAsync(value, call.RequestStream, CancellationToken.None).ConfigureAwait(false);
            await call.RequestStream.CompleteAsync().ConfigureAwait(false);
            await call.ResponseAsync.ConfigureAwait(false);
            done.UploadedLength = value.Length;
        }
        catch (RpcException e)
        {
            done.Error = new TaskError { Kind = ErrorKind.WorkerCrashed, Message = $"the result of {done.WorkId} ({value.Length} bytes) could not be sent to the node: {e.Status.Detail}" };
        }
    }

    /// <summary>A result over what an upload carries, which the node's store could not take.</summary>
    private static TaskError TooLargeForUpload(Execute execute, int length) => new()
    {
        Kind = ErrorKind.Application,
        Function = Display(execute.Function),
        RemoteType = typeof(ArgumentException).FullName!,
        Message = $"the result of {Display(execute.Function)} is {length >> 20} MiB serialized, over the {MessageLimits.MaxValueBytes >> 20} MiB a value may be " +
            "outside the node's shared-memory store, which could not take it (full, or not usable here): free the store or give it more room (--object-store-memory, the tmpfs's size)",
    };

    private static WorkDone ArgumentLost(Execute execute, int index, string reason) => new()
    {
        WorkId = execute.WorkId,
        Error = new TaskError
        {
            Kind = ErrorKind.ObjectLost,
            Function = execute.Function.Method,
            Message = $"argument {index} of {execute.Function.Method} could not be fetched from the node: {reason}",
        },
    };

    private async Task<WorkDone> RunAsync(string workId, FunctionDescriptor function, IReadOnlyList<ByteString> args, object? target)
    {
        if (Cancellations.CancelledBeforeStart(workId))
        {
            return Cancelled(workId, function);
        }

        var done = new WorkDone { WorkId = workId };
        CancellationTokenSource? cancellation = null;
        RuntimeContext.SetCurrentWork(workId);
        try
        {
            var invocation = _invoker.Resolve(function);
            if (invocation.TakesCancellationToken && (cancellation = Cancellations.Start(workId)) is null)
            {
                return Cancelled(workId, function);
            }

            var result = await invocation.InvokeAsync(target, invocation.ReadArgs(args, cancellation?.Token ?? CancellationToken.None)).ConfigureAwait(false);
            // A task's result may be as large as the store takes; an actor call's travels in a message.
            done.Value = invocation.WriteResult(result, target is null && _staging is not null ? MessageLimits.MaxStoredValueBytes : MessageLimits.MaxValueBytes);
        }
        catch (OperationCanceledException) when (cancellation?.IsCancellationRequested == true)
        {
            done = Cancelled(workId, function);
        }
        catch (Exception e)
        {
            done.Error = ToError(e, function);
        }
        finally
        {
            RuntimeContext.SetCurrentWork(null);
            if (cancellation is not null)
            {
                Cancellations.End(workId);
            }
        }

        await Cluster.WorkerRequestsHandledAsync().ConfigureAwait(false);
        return done;
    }

    private async Task StartActorAsync(StartActor start)
    {
        var started = new ActorStarted { ActorId = start.ActorId };
        CallGroups? groups = null;
        try
        {
            var invocation = _invoker.Resolve(start.Constructor);
            _actor = await invocation.InvokeAsync(null, invocation.ReadArgs(start.Args, CancellationToken.None)).ConfigureAwait(false);
            groups = CallGroupsOf(_actor!, start.MaxConcurrency);
        }
        catch (Exception e)
        {
            started.Error = ToError(e, start.Constructor);
        }

        if (started.Error is null)
        {
            try
            {
                var credentials = start.TlsCertificatePem.Length > 0
                    ? _credentials with { Tls = _credentials.Tls.WithServerCertificate(System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(start.TlsCertificatePem, start.TlsKeyPem)) }
                    : _credentials;
                ActorServer = ActorServer.Start(
                    start.ActorId, start.ListenAddress, credentials, call => RunAsync(call.WorkId, call.Method, call.Args, _actor), Cancellations.Cancel,
                    start.UnixListenAddress, groups);
                started.Address = ActorServer.Address;
                started.UnixAddress = ActorServer.UnixAddress;
            }
            catch (Exception e) when (IsServerStartFailure(e))
            {
                started.Error = new TaskError
                {
                    Kind = ErrorKind.ActorDied,
                    Function = start.Constructor.Type,
                    Message = $"the worker could not serve the actor's calls at {start.ListenAddress}: {e.Message}",
                    RemoteType = e.GetType().FullName ?? "",
                    RemoteStack = e.ToString(),
                };
            }
        }

        _events.TryWrite(new WorkerEvent { ActorStarted = started });
    }

    private CallGroups CallGroupsOf(object actor, int maxConcurrency) =>
        new(ConcurrencyGroups.Of(actor.GetType()), Math.Max(1, maxConcurrency), function => _invoker.Resolve(function).Method);

    /// <summary>
    /// Why an actor's server may not start: the address is malformed or too long for a Unix socket
    /// (ArgumentException, FormatException), or it cannot be bound (IOException, SocketException).
    /// </summary>
    internal static bool IsServerStartFailure(Exception e) =>
        e is IOException or InvalidOperationException or FormatException or ArgumentException or System.Net.Sockets.SocketException or UnauthorizedAccessException;

    /// <summary>The result of work cancelled before or while it ran.</summary>
    public static WorkDone Cancelled(string workId, FunctionDescriptor function) => new()
    {
        WorkId = workId,
        Error = new TaskError { Kind = ErrorKind.Cancelled, Function = Display(function), Message = $"{Display(function)} was cancelled" },
    };

    private static string Display(FunctionDescriptor function) => $"{function.Type.Split('.').Last().Replace('+', '.')}.{function.Method}";

    private static TaskError ToError(Exception e, FunctionDescriptor function) => new()
    {
        Kind = ErrorKind.Application,
        Function = Display(function),
        RemoteType = e.GetType().FullName ?? e.GetType().Name,
        Message = e.Message,
        RemoteStack = e.ToString(),
    };
}
