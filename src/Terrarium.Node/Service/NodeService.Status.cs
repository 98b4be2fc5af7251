using Grpc.Core;
using Terrarium.Node.Workers;
using Terrarium.Protocol;

namespace Terrarium.Node.Service;

/// <summary>What the node runs and holds, for <c>terrarium status</c> and <c>Cluster.GetStatusAsync</c>.</summary>
internal sealed partial class NodeService
{
    public override Task<NodeStatus> GetStatus(GetStatusRequest request, ServerCallContext context)
    {
        var status = new NodeStatus { NodeId = options.NodeId, QueuedTasks = tasks.QueuedCount, Objects = objects.Count, ObjectBytes = objects.Bytes, NugetRestores = restorer.RestoresRun, ObjectStore = objects.Location };
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

        foreach (var (hash, state, json) in builds.List())
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
}
