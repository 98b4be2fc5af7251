using Terrarium.Protocol;
using Terrarium.Protocol.Hosting;

namespace Terrarium.Worker;

/// <summary>Runs a worker's tasks or actor calls one at a time, in the order they arrive.</summary>
internal sealed class WorkExecutor
{
    private readonly BatchingWriter<WorkerEvent, WorkerBatch> _events;
    private readonly FunctionInvoker _invoker;
    private object? _actor;

    public WorkExecutor(WorkerSetup setup, Endpoint node, string workerId, string token, BatchingWriter<WorkerEvent, WorkerBatch> events)
    {
        _events = events;
        ProcessEnvironment.Apply(setup.EnvVars, setup.WorkingDirectory);
        var env = setup.RuntimeEnvJson.Length > 0 ? RuntimeEnv.FromJson(setup.RuntimeEnvJson) : null;
        var context = new JobLoadContext(setup.NugetAssemblies, setup.NativeLibraries, setup.AssemblyDirectories, setup.JobCodeDir);
        _invoker = new FunctionInvoker(context);
        RuntimeContext.WorkerContext = new RuntimeContext(setup.JobId, setup.NodeId, workerId, setup.ActorId.Length > 0 ? setup.ActorId : null, env)
        {
            NuGetPackages = setup.NugetPackages.Select(p => new NuGetPackageInfo(p.Id, p.Version, p.Assets.ToList())).ToList(),
        };
        var head = Endpoint.Parse(setup.HeadAddress);
        // Cluster.Current is a property: the worker's own connection is opened on its first use.
        Cluster.SetWorkerClusterFactory(() => Cluster.ConnectWorkerAsync(
            node, head, token, setup.JobId, setup.JobCodeDir, workerId, env, CancellationToken.None).GetAwaiter().GetResult());
    }

    public async Task RunAsync(WorkQueue work)
    {
        while (await work.TakeAsync().ConfigureAwait(false) is { } command)
        {
            switch (command.KindCase)
            {
                case WorkerCommand.KindOneofCase.Execute:
                    await ExecuteAsync(command.Execute).ConfigureAwait(false);
                    break;
                case WorkerCommand.KindOneofCase.StartActor:
                    await StartActorAsync(command.StartActor).ConfigureAwait(false);
                    break;
            }
        }
    }

    private async Task ExecuteAsync(Execute execute)
    {
        var done = new WorkDone { WorkId = execute.WorkId };
        RuntimeContext.SetCurrentWork(execute.WorkId);
        try
        {
            var invocation = _invoker.Resolve(execute.Function);
            if (execute.ActorCall && _actor is null)
            {
                throw new InvalidOperationException("this worker hosts no actor");
            }

            var result = await invocation.InvokeAsync(execute.ActorCall ? _actor : null, invocation.ReadArgs(execute.Args)).ConfigureAwait(false);
            done.Value = invocation.WriteResult(result);
        }
        catch (Exception e)
        {
            done.Error = ToError(e, execute.Function);
        }
        finally
        {
            RuntimeContext.SetCurrentWork(null);
        }

        _events.TryWrite(new WorkerEvent { Done = done });
    }

    private async Task StartActorAsync(StartActor start)
    {
        var started = new ActorStarted { ActorId = start.ActorId };
        try
        {
            var invocation = _invoker.Resolve(start.Constructor);
            _actor = await invocation.InvokeAsync(null, invocation.ReadArgs(start.Args)).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            started.Error = ToError(e, start.Constructor);
        }

        _events.TryWrite(new WorkerEvent { ActorStarted = started });
    }

    private static TaskError ToError(Exception e, FunctionDescriptor function) => new()
    {
        Kind = ErrorKind.Application,
        Function = $"{function.Type.Split('.').Last().Replace('+', '.')}.{function.Method}",
        RemoteType = e.GetType().FullName ?? e.GetType().Name,
        Message = e.Message,
        RemoteStack = e.ToString(),
    };
}
