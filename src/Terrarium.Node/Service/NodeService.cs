using Grpc.Core;
using Microsoft.Extensions.Logging;
using Terrarium.Node.Actors;
using Terrarium.Node.Membership;
using Terrarium.Node.Objects;
using Terrarium.Node.Resources;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.RuntimeEnvs.Caching;
using Terrarium.Node.RuntimeEnvs.NuGetPackages;
using Terrarium.Node.Sessions;
using Terrarium.Node.Tasks;
using Terrarium.Node.Workers;
using Terrarium.Protocol;
using Terrarium.Protocol.SharedMemory;

namespace Terrarium.Node.Service;

/// <summary>
/// The node's gRPC face. Here: client sessions, the requests they batch, and worker attachment;
/// objects' values in <c>NodeService.Objects.cs</c>, status in <c>NodeService.Status.cs</c>.
/// </summary>
internal sealed partial class NodeService(
    NodeOptions options, ObjectStore objects, ObjectCopier copier, ObjectTransferServer transfers, TaskDispatcher tasks, ActorSupervisor actors, WorkerPool pool,
    EnvBuildCache builds, CacheCollector cache, IEnvUsers envUsers, NuGetRestorer restorer, PackageCache packages, ResourceLedger ledger, LogRelay logs, DetachedSessions detached,
    HeadLink head, JobEnds jobEnds, ILogger<NodeService> logger) : Protocol.Node.NodeBase
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

        if (string.IsNullOrWhiteSpace(open.JobId) || string.IsNullOrEmpty(open.JobCodeDir))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "OpenSession needs job_id and job_code_dir"));
        }

        if (open.JobCodeUri.Length > 0 && open.ResumeSessionId.Length == 0)
        {
            open.JobCodeDir = await UnpackJobCodeAsync(open.JobCodeUri, ct).ConfigureAwait(false);
        }

        var (session, generation, reading) = Open(open, responseStream, ct);
        var closedByClient = false;
        try
        {
            HandleBatch(session, generation, requestStream.Current.Requests.Skip(1));
            while (await requestStream.MoveNext(reading).ConfigureAwait(false))
            {
                if (!HandleBatch(session, generation, requestStream.Current.Requests))
                {
                    // A newer stream of the same session took over.
                    return;
                }
            }

            closedByClient = true;
        }
        catch (Exception e) when (e is IOException or OperationCanceledException || (e is RpcException r && r.StatusCode == StatusCode.Cancelled))
        {
            // The stream broke: the client may come back on a new one.
        }

        if (session.Generation != generation)
        {
            return;
        }

        if (closedByClient)
        {
            End(session);
            // Let queued events reach the client before the call completes.
            await session.Completion.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        else if (detached.Detach(session, End))
        {
            // A worker's session breaks whenever its worker exits: only a driver's is news.
            if (session.IsDriver)
            {
                NodeLog.SessionDetached(logger, session.Id, options.SessionResumeGrace);
            }
            else
            {
                NodeLog.WorkerSessionDetached(logger, session.Id, session.WorkerId);
            }
        }
    }

    /// <summary>The folder the shipped job code is unpacked in (once per content on this node).</summary>
    private async Task<string> UnpackJobCodeAsync(string uri, CancellationToken ct)
    {
        if (!uri.StartsWith("pkg://", StringComparison.Ordinal))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"job_code_uri '{uri}' is not a pkg:// package of the head's store"));
        }

        try
        {
            return await packages.GetDirectoryAsync(uri, ct).ConfigureAwait(false);
        }
        catch (PackageFetchException e)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"the job's code could not be fetched: {e.Message}"));
        }
    }

    /// <summary>A new session, or the one <see cref="OpenSession.ResumeSessionId"/> names on a new stream.</summary>
    private (Session Session, int Generation, CancellationToken Reading) Open(OpenSession open, IServerStreamWriter<SessionBatch> stream, CancellationToken ct)
    {
        if (open.ResumeSessionId.Length == 0)
        {
            var session = new Session($"{options.NodeId}-s{Interlocked.Increment(ref s_nextSession)}", open);
            (int Generation, CancellationToken Reading) attached;
            lock (session.HandleLock)
            {
                attached = session.Attach(stream, ct);
            }

            detached.Attached(session);
            session.Send(new SessionEvent { Opened = OpenedEvent(session) });
            if (open.SubscribeLogs)
            {
                logs.Subscribe(session);
            }

            NodeLog.SessionOpened(logger, session.Id, session.JobId, session.WorkerId);
            return (session, attached.Generation, attached.Reading);
        }

        var resumed = detached.TryResume(open.ResumeSessionId, open.JobId, open.WorkerId)
            ?? throw new RpcException(new Status(StatusCode.NotFound,
                $"session '{open.ResumeSessionId}' of job '{open.JobId}' is over: its client stayed away longer than {options.SessionResumeGrace.TotalSeconds:0} s, or the node restarted"));
        lock (resumed.HandleLock)
        {
            var (generation, reading) = resumed.Attach(stream, ct);
            resumed.Send(new SessionEvent { Opened = OpenedEvent(resumed) });
            NodeLog.SessionResumed(logger, resumed.Id, resumed.RequestsHandled);
            return (resumed, generation, reading);
        }
    }

    /// <summary>Handles a batch unless a newer stream of the session has taken over; false then.</summary>
    private bool HandleBatch(Session session, int generation, IEnumerable<ClientRequest> requests)
    {
        lock (session.HandleLock)
        {
            if (session.Generation != generation)
            {
                return false;
            }

            var before = session.RequestsHandled;
            Handle(session, requests);
            if (session.RequestsHandled != before)
            {
                session.Send(new SessionEvent { Handled = new RequestsHandled { Count = session.RequestsHandled } });
            }

            return true;
        }
    }

    private void End(Session session)
    {
        detached.Ended(session);
        logs.Unsubscribe(session);
        if (session.IsDriver)
        {
            // First: the job's work waiting for the driver's objects ends with the job, saying so,
            // rather than with their loss.
            EndJob(session.JobId);
        }

        objects.ReleaseOwnedBy(session);
        objects.Shared?.RemoveStagingOf(session.Id);
        session.DropUnclaimedUploads();

        if (session.IsJobHome)
        {
            head.ReportJobEnded(session.JobId);
        }

        session.Close();
        NodeLog.SessionClosed(logger, session.Id);
    }

    public override Task AttachWorker(IAsyncStreamReader<WorkerBatch> requestStream, IServerStreamWriter<WorkerCommandBatch> responseStream, ServerCallContext context) =>
        pool.AttachAsync(requestStream, responseStream, context);

    private void Handle(Session session, IEnumerable<ClientRequest> requests)
    {
        foreach (var request in requests)
        {
            session.RequestsHandled++;
            switch (request.KindCase)
            {
                case ClientRequest.KindOneofCase.DefineEnv:
                    if (session.DefineEnv(request.DefineEnv.Hash, request.DefineEnv.CanonicalJson) is { } refusal)
                    {
                        NodeLog.InvalidRequest(logger, session.Id, $"runtime env {request.DefineEnv.Hash} not defined: {refusal}");
                    }
                    else if (request.DefineEnv.Prepare)
                    {
                        session.EagerEnvs[request.DefineEnv.Hash] = true;
                        _ = PrepareEagerlyAsync(session, request.DefineEnv);
                    }

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
                case ClientRequest.KindOneofCase.Copy:
                    Copy(session, request.Copy);
                    break;
                case ClientRequest.KindOneofCase.Cancel:
                    tasks.Cancel(request.Cancel.WorkId, request.Cancel.Force, session.JobId);
                    break;
                case ClientRequest.KindOneofCase.Resend:
                    Resend(session, request.Resend);
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

    private void Submit(Session session, SubmitTask spec)
    {
        if (string.IsNullOrEmpty(spec.WorkId) || spec.Function is null)
        {
            NodeLog.InvalidRequest(logger, session.Id, "SubmitTask needs work_id and function");
            return;
        }

        if (!objects.TryCreate(spec.WorkId, session))
        {
            NodeLog.InvalidRequest(logger, session.Id, $"task id '{spec.WorkId}' is already in use");
            return;
        }

        if (spec.TimeoutMs < 0)
        {
            objects.Complete(spec.WorkId, ObjectResult.Failed(new TaskError
            {
                Kind = ErrorKind.InvalidRequest,
                Message = $"task '{spec.WorkId}' has a negative timeout ({spec.TimeoutMs} ms); 0 means none",
            }));
            return;
        }

        tasks.Submit(spec, session);
    }

    /// <summary>
    /// Builds the env before work needs it (eager install). A failure is remembered by the build
    /// cache, logged, and told to the session; the work that comes later hears it as its own.
    /// </summary>
    private async Task PrepareEagerlyAsync(Session session, DefineRuntimeEnv define)
    {
        try
        {
            await builds.PrepareAsync(define.Hash, define.CanonicalJson, session, CancellationToken.None).ConfigureAwait(false);
        }
        catch (RuntimeEnvSetupFailure)
        {
            // Logged and kept by the build cache.
        }
        catch (Exception e)
        {
            NodeLog.EagerSetupFailed(logger, define.Hash, e);
        }
    }

    /// <summary>Results the client still waits for after it resumed: those ready go again (the first copy may be lost).</summary>
    private void Resend(Session session, ResendResults resend)
    {
        foreach (var id in resend.ObjectIds)
        {
            if (objects.Find(id) is { IsCompletedSuccessfully: true } ready)
            {
                session.NotifyReady(id, ready.Result);
            }
        }
    }

    /// <summary>What a client is told when its session opens or resumes: where it may put and fetch large values.</summary>
    private SessionOpened OpenedEvent(Session session) => new()
    {
        NodeId = options.NodeId,
        SessionId = session.Id,
        RequestsHandled = session.RequestsHandled,
        BootId = MachineIdentity.BootId,
        ObjectStoreStaging = objects.Shared?.StagingFor(session.Id) ?? "",
        ObjectSocket = transfers.Socket,
        ObjectAddress = transfers.Address,
    };

    private void EndJob(string jobId) => jobEnds.End(jobId);
}
