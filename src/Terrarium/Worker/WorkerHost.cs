using Grpc.Core;
using Terrarium.Protocol;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Worker;

/// <summary>
/// The worker process: attaches to its node, learns what it is for, then runs the tasks (or hosts
/// the actor) the node sends, one at a time, reporting each result. It exits when the node ends
/// its stream.
/// </summary>
internal static class WorkerHost
{
    private static readonly TimeSpan FlushGrace = TimeSpan.FromSeconds(2);
    // Set once the process has begun to exit (user code called Environment.Exit).
    private static bool s_exiting;

    public static async Task<int> RunAsync()
    {
        ProcessEnvironment.RestoreLoaderPath();
        var nodeAddress = Environment.GetEnvironmentVariable("TERRARIUM_NODE_ADDRESS");
        var workerId = Environment.GetEnvironmentVariable("TERRARIUM_WORKER_ID");
        var credentials = await ReadCredentialsAsync().ConfigureAwait(false);
        if (nodeAddress is null || workerId is null || credentials is null)
        {
            await Console.Error.WriteLineAsync("a worker needs TERRARIUM_NODE_ADDRESS, TERRARIUM_WORKER_ID, and the cluster token and TLS settings on its stdin; nodes start workers themselves").ConfigureAwait(false);
            return 2;
        }
        var warmActorServerSocket = Environment.GetEnvironmentVariable("TERRARIUM_WARM_ACTOR_SERVER");
        Environment.SetEnvironmentVariable("TERRARIUM_WARM_ACTOR_SERVER", null);

        var node = Endpoint.Parse(nodeAddress);
        var (channel, invoker) = ClusterChannel.Open(node, credentials);
        using (channel)
        {
            var nodeClient = new Protocol.Node.NodeClient(invoker);
            using var call = nodeClient.AttachWorker();
            var events = new BatchingWriter<WorkerEvent, WorkerBatch>(call.RequestStream, () => new WorkerBatch(), (b, e) => b.Events.Add(e), CancellationToken.None);
            var callEnded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            WorkExecutor? executor = null;
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                Volatile.Write(ref s_exiting, true);
                DeliverLastResultsBeforeExit(events, call.RequestStream, callEnded.Task, executor?.ActorServer);
            };
            events.TryWrite(new WorkerEvent { Hello = new WorkerHello { WorkerId = workerId, Pid = Environment.ProcessId } });
            _ = Task.Run(() => WorkerWarmUp.RunAsync(warmActorServerSocket));

            var work = new WorkQueue();
            Task running = Task.CompletedTask;
            try
            {
                await foreach (var batch in call.ResponseStream.ReadAllAsync().ConfigureAwait(false))
                {
                    foreach (var command in batch.Commands)
                    {
                        if (command.KindCase == WorkerCommand.KindOneofCase.Setup)
                        {
                            executor = new WorkExecutor(command.Setup, node, nodeClient, workerId, credentials, events);
                            running = Task.Run(() => executor.RunAsync(work));
                        }
                        else if (command.KindCase == WorkerCommand.KindOneofCase.Welcome)
                        {
                            // Nothing to do: it only exercised the read path.
                        }
                        else if (command.KindCase == WorkerCommand.KindOneofCase.Cancel)
                        {
                            var workId = command.Cancel.WorkId;
                            if (work.Remove(workId) is { } waiting)
                            {
                                events.TryWrite(new WorkerEvent { Done = WorkExecutor.Cancelled(workId, waiting.Function) });
                            }
                            else
                            {
                                executor?.Cancellations.Cancel(workId);
                            }
                        }
                        else if (command.KindCase == WorkerCommand.KindOneofCase.Reclaim)
                        {
                            events.TryWrite(new WorkerEvent { Returned = new Returned { WorkIds = { work.ReclaimTasks() } } });
                        }
                        else
                        {
                            work.Add(command);
                        }
                    }
                }
            }
            catch (RpcException)
            {
                // The node went away: nothing left to work for.
            }
            finally
            {
                callEnded.TrySetResult();
            }

            work.Complete();
            await running.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            events.Complete();
            await Task.WhenAny(events.Completion, Task.Delay(FlushGrace)).ConfigureAwait(false);
        }

        if (Volatile.Read(ref s_exiting))
        {
            // User code called Environment.Exit and its delivery of the last results ended the node's
            // stream: the process is exiting with the code user code gave, which a second Exit here
            // would replace with 0.
            Thread.Sleep(Timeout.Infinite);
        }

        // User code may have left foreground threads behind; the worker's life is over regardless.
        Environment.Exit(0);
        return 0;
    }

    /// <summary>
    /// The node writes the token and the TLS settings (<see cref="ClusterTls.ToLine"/>: the CAs to
    /// trust, the certificate an actor's server presents) as the first two lines of the worker's
    /// stdin and closes it: the secrets are in no environment that user code or other processes can read.
    /// </summary>
    private static async Task<ClusterCredentials?> ReadCredentialsAsync()
    {
        using var stdin = new StreamReader(Console.OpenStandardInput());
        var token = await stdin.ReadLineAsync().ConfigureAwait(false);
        var tls = await stdin.ReadLineAsync().ConfigureAwait(false);
        if (string.IsNullOrWhiteSpace(token) || string.IsNullOrWhiteSpace(tls))
        {
            return null;
        }

        try
        {
            return new ClusterCredentials(token.Trim(), ClusterTls.FromLine(tls));
        }
        catch (FormatException e)
        {
            await Console.Error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>
    /// Results already produced must arrive even when user code ends the process (Environment.Exit
    /// in the task or call after them): the actor's callers get what is theirs, and the node's event
    /// stream is flushed and ended, waiting for the node to end the call, which it does once it has
    /// read every event.
    /// </summary>
    private static void DeliverLastResultsBeforeExit(
        BatchingWriter<WorkerEvent, WorkerBatch> events, IClientStreamWriter<WorkerBatch> stream, Task callEnded, ActorServer? actorServer)
    {
        var deadline = Task.Delay(FlushGrace);
        actorServer?.CloseWithin(deadline);
        events.Complete();
        Task.WhenAny(events.Completion, deadline).Wait();
        if (!events.Completion.IsCompletedSuccessfully || callEnded.IsCompleted)
        {
            return;
        }

        try
        {
            Task.WhenAny(stream.CompleteAsync(), deadline).Wait();
        }
        catch (InvalidOperationException)
        {
            // The call is over already.
        }

        Task.WhenAny(callEnded, deadline).Wait();
    }
}
