using Grpc.Core;
using Microsoft.Extensions.Logging;
using Terrarium.Protocol;

namespace Terrarium.Node.Internal;

/// <summary>The node's gRPC face: client sessions, worker attachment and status.</summary>
internal sealed class NodeService(
    NodeOptions options, ObjectStore objects, TaskDispatcher tasks, ActorSupervisor actors, WorkerPool pool,
    RuntimeEnvAgent agent, NuGetRestorer restorer, ResourceLedger ledger, LogRelay logs, ILogger<NodeService> logger) : Protocol.Node.NodeBase
{
    private static int s_nextSession;

    public override async Task Session(IAsyncStreamReader<ClientBatch> requestStream, IServerStreamWriter<SessionBatch> responseStream, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        if (!await requestStream.MoveNext(ct).ConfigureAwait(false) ||
            requestStream.Current.Requests.FirstOrDefault()?.Open is not { } open)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "a session's first request must be OpenSession"));
        }

        if (string.IsNullOrEmpty(open.JobId) || string.IsNullOrEmpty(open.JobCodeDir))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "OpenSession needs job_id and job_code_dir"));
        }

        var session = new ClientSession($"{options.NodeId}-s{Interlocked.Increment(ref s_nextSession)}", open, responseStream, ct);
        session.Send(new SessionEvent { Opened = new SessionOpened { NodeId = options.NodeId, SessionId = session.Id } });
        if (open.SubscribeLogs)
        {
            logs.Subscribe(session);
        }

        NodeLog.SessionOpened(logger, session.Id, session.JobId, session.WorkerId);
        try
        {
            Handle(session, requestStream.Current.Requests.Skip(1));
            while (await requestStream.MoveNext(ct).ConfigureAwait(false))
            {
                Handle(session, requestStream.Current.Requests);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException || (e is RpcException r && r.StatusCode == StatusCode.Cancelled))
        {
            // The client went away; clean up below.
        }
        finally
        {
            logs.Unsubscribe(session);
            objects.ReleaseOwnedBy(session);
            if (session.IsDriver)
            {
                EndJob(session.JobId);
            }

            session.Close();
            NodeLog.SessionClosed(logger, session.Id);
        }

        // Let queued events reach the client before the call completes.
        await session.Completion.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public override Task AttachWorker(IAsyncStreamReader<WorkerBatch> requestStream, IServerStreamWriter<WorkerCommandBatch> responseStream, ServerCallContext context) =>
        pool.AttachAsync(requestStream, responseStream, context);

    public override Task<NodeStatus> GetStatus(GetStatusRequest request, ServerCallContext context)
    {
        var status = new NodeStatus { NodeId = options.NodeId, QueuedTasks = tasks.QueuedCount, Objects = objects.Count, NugetRestores = restorer.RestoresRun };
        status.Total.Add(ledger.Total);
        status.Available.Add(ledger.Snapshot());
        foreach (var worker in pool.All)
        {
            status.Workers.Add(new WorkerStatus
            {
                WorkerId = worker.Id,
                Pid = worker.Pid,
                JobId = worker.JobId,
                EnvHash = worker.Env.Hash,
                ActorId = worker.ActorId ?? "",
                State = worker.Blocked ? "blocked"
                    : worker.State == WorkerState.Warm && !worker.IsAttached ? "starting"
                    : worker.State.ToString().ToLowerInvariant(),
                TasksRun = worker.TasksRun,
            });
        }

        foreach (var (hash, state, json) in agent.List())
        {
            status.RuntimeEnvs.Add(new RuntimeEnvStatus
            {
                Hash = hash,
                State = state,
                CanonicalJson = json,
                References = pool.All.Count(w => w.Env.Hash == hash),
            });
        }

        return Task.FromResult(status);
    }

    private void Handle(ClientSession session, IEnumerable<ClientRequest> requests)
    {
        foreach (var request in requests)
        {
            switch (request.KindCase)
            {
                case ClientRequest.KindOneofCase.DefineEnv:
                    session.DefineEnv(request.DefineEnv.Hash, request.DefineEnv.CanonicalJson);
                    break;
                case ClientRequest.KindOneofCase.SubmitTask:
                    Submit(session, request.SubmitTask);
                    break;
                case ClientRequest.KindOneofCase.CreateActor:
                    actors.Create(request.CreateActor, session);
                    break;
                case ClientRequest.KindOneofCase.LocateActor:
                    actors.Locate(request.LocateActor, session);
                    break;
                case ClientRequest.KindOneofCase.KillActor:
                    actors.Kill(request.KillActor, session);
                    break;
                case ClientRequest.KindOneofCase.Release:
                    foreach (var id in request.Release.ObjectIds)
                    {
                        objects.Release(id);
                    }

                    break;
                case ClientRequest.KindOneofCase.Promise:
                    if (string.IsNullOrEmpty(request.Promise.ObjectId) || !objects.TryPromise(request.Promise.ObjectId, session))
                    {
                        NodeLog.InvalidRequest(logger, session.Id, $"PromiseObject needs an object_id not in use (got '{request.Promise.ObjectId}')");
                    }

                    break;
                case ClientRequest.KindOneofCase.Put:
                    Put(session, request.Put);
                    break;
                case ClientRequest.KindOneofCase.Cancel:
                    tasks.Cancel(request.Cancel.TaskId, request.Cancel.Force, session.JobId);
                    break;
                case ClientRequest.KindOneofCase.Blocked:
                    tasks.SetBlocked(session.WorkerId, request.Blocked.Blocked, request.Blocked.WorkId);
                    break;
                default:
                    NodeLog.InvalidRequest(logger, session.Id, $"unexpected request {request.KindCase}");
                    break;
            }
        }
    }

    private void Submit(ClientSession session, SubmitTask spec)
    {
        if (string.IsNullOrEmpty(spec.TaskId) || spec.Function is null)
        {
            NodeLog.InvalidRequest(logger, session.Id, "SubmitTask needs task_id and function");
            return;
        }

        if (!objects.TryCreate(spec.TaskId, session))
        {
            NodeLog.InvalidRequest(logger, session.Id, $"task id '{spec.TaskId}' is already in use");
            return;
        }

        if (spec.TimeoutMs < 0)
        {
            objects.Complete(spec.TaskId, ObjectResult.Failed(new TaskError
            {
                Kind = ErrorKind.InvalidRequest,
                Message = $"task '{spec.TaskId}' has a negative timeout ({spec.TimeoutMs} ms); 0 means none",
            }));
            return;
        }

        tasks.Submit(spec, session);
    }

    private void Put(ClientSession session, PutObject put)
    {
        var result = put.Error is { } error ? ObjectResult.Failed(error) : new ObjectResult(put.Value, null);
        if (string.IsNullOrEmpty(put.ObjectId) || !objects.TryPut(put.ObjectId, session, result))
        {
            NodeLog.InvalidRequest(logger, session.Id, $"PutObject needs an object_id not in use, or promised by this session (got '{put.ObjectId}')");
        }
    }

    private void EndJob(string jobId)
    {
        tasks.EndJob(jobId);
        actors.EndJob(jobId);
        pool.KillJob(jobId);
    }
}
