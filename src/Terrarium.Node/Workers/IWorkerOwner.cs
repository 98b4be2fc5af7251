using Terrarium.Protocol;

namespace Terrarium.Node.Workers;

/// <summary>Who a worker reports to: the task dispatcher, or the supervisor of its actor.</summary>
internal interface IWorkerOwner
{
    void OnAttached(WorkerProcess worker);

    void OnDone(WorkerProcess worker, WorkDone done);

    void OnActorStarted(WorkerProcess worker, ActorStarted started);

    /// <summary>The worker gave back tasks it had not started (after a Reclaim).</summary>
    void OnReturned(WorkerProcess worker, Returned returned);

    /// <summary>The process ended (crash, kill or normal shutdown).</summary>
    void OnExited(WorkerProcess worker, int exitCode);
}
