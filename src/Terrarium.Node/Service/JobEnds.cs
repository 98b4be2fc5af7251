using Terrarium.Node.Actors;
using Terrarium.Node.Tasks;
using Terrarium.Node.Workers;

namespace Terrarium.Node.Service;

/// <summary>
/// Ends a job's work on this node for good: its queued and waiting tasks are dropped, its actors
/// killed, its workers stopped — all but its detached actors and their workers. Reached when the job's driver session here ends, and when the head
/// says the job ended (for work that came here through its workers' sessions only). Ending a job
/// twice, or one the node never saw, does nothing more.
/// </summary>
internal sealed class JobEnds(TaskDispatcher tasks, ActorSupervisor actors, WorkerPool pool)
{
    public void End(string jobId)
    {
        tasks.EndJob(jobId);
        actors.EndJob(jobId);
        pool.KillJob(jobId, keep: worker => worker.ActorId is { } actorId && actors.IsDetached(actorId));
    }
}
