using Terrarium.Node.Actors;
using Terrarium.Node.Tasks;
using Terrarium.Node.Workers;

namespace Terrarium.Node.RuntimeEnvs.Caching;

/// <summary>Who uses which env on the node now: what the cache's collector must not take from under them.</summary>
internal interface IEnvUsers
{
    /// <summary>One entry per user: <c>workers</c>, <c>tasks</c> or <c>actors</c>, and the hash of its env.</summary>
    IEnumerable<(string Kind, string EnvHash)> Users();
}

/// <summary>The node's users of envs: its live workers, the tasks that wait on it, and its actors not dead.</summary>
internal sealed class NodeEnvUsers(WorkerPool pool, TaskDispatcher tasks, ActorSupervisor actors) : IEnvUsers
{
    public IEnumerable<(string Kind, string EnvHash)> Users() =>
        pool.All.Where(w => w.State != WorkerState.Dead).Select(w => ("workers", w.Env.Hash))
            .Concat(tasks.WaitingEnvHashes().Select(h => ("tasks", h)))
            .Concat(actors.All.Where(a => a.State != ActorState.Dead).Select(a => ("actors", a.Spec.EnvHash)))
            .Where(u => u.Item2.Length > 0)
            .ToList();
}
