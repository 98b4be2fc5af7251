using Terrarium.Node.Actors;
using Terrarium.Node.Jobs;
using Terrarium.Node.Sessions;
using Terrarium.Node.Tasks;
using Terrarium.Node.Workers;

namespace Terrarium.Node.RuntimeEnvs.Caching;

/// <summary>Who uses which env on the node now: what the cache's collector must not take from under them.</summary>
internal interface IEnvUsers
{
    /// <summary>One entry per user: <c>tasks</c>, <c>workers</c>, <c>actors</c> or <c>jobs</c> (a job env built ahead), and the hash of its env.</summary>
    IEnumerable<(string Kind, string EnvHash)> Users();

    /// <summary>
    /// Folders of the cache in use besides envs': the shipped code of the jobs whose sessions are open
    /// or whose actors live (a detached one outlives its job's sessions), and submitted jobs' drivers' working dirs.
    /// </summary>
    IEnumerable<string> FoldersInUse();
}

/// <summary>
/// The node's users of envs: the tasks that wait on it (read first: one that moves on to a worker
/// meanwhile is then seen there), its live workers, its actors not dead, and the job envs its open
/// sessions asked it to build ahead.
/// </summary>
internal sealed class NodeEnvUsers(WorkerPool pool, TaskDispatcher tasks, ActorSupervisor actors, DetachedSessions sessions, JobDrivers drivers) : IEnvUsers
{
    public IEnumerable<(string Kind, string EnvHash)> Users() =>
        tasks.WaitingEnvHashes().Select(h => ("tasks", h)).ToList()
            .Concat(pool.All.Where(w => w.State != WorkerState.Dead).Select(w => ("workers", w.Env.Hash)))
            .Concat(actors.All.Where(a => a.State != ActorState.Dead).Select(a => ("actors", a.Spec.EnvHash)))
            .Concat(sessions.All().SelectMany(s => s.EagerEnvs.Keys).Select(h => ("jobs", h)))
            .Where(u => u.Item2.Length > 0)
            .ToList();

    public IEnumerable<string> FoldersInUse() =>
        sessions.All().Select(s => s.JobCode.Directory)
            .Concat(actors.All.Where(a => a.State != ActorState.Dead).Select(a => a.Owner.JobCode.Directory))
            .Concat(drivers.WorkingDirs())
            .Where(d => d.Length > 0).Distinct().ToList();
}
