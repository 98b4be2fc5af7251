using Terrarium.Protocol;
using Terrarium.Protocol.Transport;

namespace Terrarium;

public sealed partial class Cluster
{
    /// <summary>A snapshot of the cluster: nodes, resources, workers and runtime envs.</summary>
    public async Task<ClusterStatus> GetStatusAsync(CancellationToken ct = default)
    {
        ThrowIfDisposed();
        var nodes = await _head.ListNodesAsync(new ListNodesRequest(), cancellationToken: ct).ConfigureAwait(false);
        var summaries = new List<NodeSummary>();
        foreach (var node in nodes.Nodes)
        {
            NodeStatus? status = null;
            if (node.Alive)
            {
                var (channel, invoker) = ClusterChannel.Open(Endpoint.Parse(node.Node.Address), _credentials);
                using (channel)
                {
                    status = await new Protocol.Node.NodeClient(invoker).GetStatusAsync(new GetStatusRequest(), cancellationToken: ct).ConfigureAwait(false);
                }
            }

            summaries.Add(new NodeSummary(
                node.Node.NodeId, node.Node.Address, node.Alive,
                new Dictionary<string, double>(node.Node.Resources),
                new Dictionary<string, double>(status?.Available ?? node.Available),
                status?.Workers.Select(w => new WorkerSummary(w.WorkerId, w.Pid, w.JobId, w.EnvHash,
                    w.ActorId.Length > 0 ? w.ActorId : null, w.State, w.TasksRun)).ToList() ?? [],
                status?.RuntimeEnvs.Select(e => new RuntimeEnvSummary(e.Hash, e.State, e.References)
                {
                    Tasks = e.Tasks,
                    Actors = e.Actors,
                    Fields = [.. e.Fields],
                    LastUsed = e.LastUsedUnixMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(e.LastUsedUnixMs) : null,
                }).ToList() ?? [],
                status?.QueuedTasks ?? 0,
                status?.Objects ?? 0,
                status?.NugetRestores ?? 0,
                status?.ObjectBytes ?? 0,
                status?.ObjectStore ?? "")
            {
                CachedResources = status?.CachedResources.Select(r => new CachedResourceSummary(r.Kind, r.Name, r.Size, r.Users,
                    DateTimeOffset.FromUnixTimeMilliseconds(r.LastUsedUnixMs), r.EnvHashes.ToList())).ToList() ?? [],
                CacheLimits = status?.CacheLimits.ToDictionary() ?? [],
                Actors = status?.Actors.Select(a => new ActorSummary(a.ActorId, a.ClassName, a.Name.Length > 0 ? a.Name : null, a.State, a.JobId,
                    a.Restarts, a.MaxRestarts, a.Detached, a.Pid > 0 ? a.Pid : null, a.DeathCause.Length > 0 ? a.DeathCause : null)).ToList() ?? [],
            });
        }

        var packages = await _head.ListPackagesAsync(new ListPackagesRequest(), cancellationToken: ct).ConfigureAwait(false);
        return new ClusterStatus(summaries, packages.Packages.Select(p => new PackageSummary(p.Hash, p.Size, p.Uploads)
        {
            Jobs = p.Jobs.ToList(),
            LastUsed = DateTimeOffset.FromUnixTimeMilliseconds(p.LastUsedUnixMs),
            Protected = p.Protected,
        }).OrderBy(p => p.Hash).ToList())
        {
            PackageStoreLimit = packages.Limit,
        };
    }
}
