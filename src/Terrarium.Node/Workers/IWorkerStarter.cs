using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.Sessions;

namespace Terrarium.Node.Workers;

/// <summary>
/// Starts a worker for a job and env (<see cref="WorkerPool"/>). The task dispatcher and the actor
/// supervisor see the pool only through this, so that their scheduling is tested without processes.
/// </summary>
internal interface IWorkerStarter
{
    /// <summary>
    /// A worker for this job and env: a pre-started one or a new process. Its owner hears
    /// <see cref="IWorkerOwner.OnAttached"/> once it is ready, never from within this call.
    /// </summary>
    WorkerProcess Start(string jobId, JobCode jobCode, PreparedEnv env, string? actorId, IWorkerOwner owner);
}
