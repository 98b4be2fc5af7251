using Grpc.Core;
using Terrarium.Node.RuntimeEnvs.Caching;
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

        foreach (var actor in actors.All)
        {
            lock (actor.Gate)
            {
                status.Actors.Add(new ActorStatus
                {
                    ActorId = actor.Id,
                    ClassName = actor.ClassName,
                    Name = actor.Spec.Name,
                    State = actor.State.ToString().ToLowerInvariant(),
                    JobId = actor.Owner.JobId,
                    Restarts = actor.Restarts,
                    MaxRestarts = actor.Spec.MaxRestarts,
                    Detached = actor.Spec.Detached,
                    Pid = actor.Worker?.Pid ?? 0,
                    DeathCause = actor.DeathCause?.Message ?? "",
                });
            }
        }

        var users = envUsers.Users().ToLookup(u => u.EnvHash);
        foreach (var (hash, state, json) in builds.List())
        {
            status.RuntimeEnvs.Add(new RuntimeEnvStatus
            {
                Fields = { FieldsOf(json) },
                Hash = hash,
                State = state,
                CanonicalJson = json,
                References = users[hash].Count(u => u.Kind == "workers"),
                Tasks = users[hash].Count(u => u.Kind == "tasks"),
                Actors = users[hash].Count(u => u.Kind == "actors"),
                LastUsedUnixMs = builds.LastUsed(hash)?.ToUnixTimeMilliseconds() ?? 0,
            });
        }

        status.CachedResources.Add(cache.Survey().Select(ToStatus));
        foreach (var kind in CacheLimits.Kinds)
        {
            status.CacheLimits[kind] = CacheLimits.Of(options.CacheLimits, kind);
        }

        return Task.FromResult(status);
    }

    /// <summary><c>terrarium env gc</c>: every unused cached resource now, or which would go.</summary>
    public override async Task<CollectCacheReply> CollectCache(CollectCacheRequest request, ServerCallContext context)
    {
        var report = await cache.CollectAsync(everythingUnused: true, request.DryRun, context.CancellationToken).ConfigureAwait(false);
        var reply = new CollectCacheReply { Skipped = report.Skipped ?? "" };
        reply.Removed.Add(report.Removed.Select(ToStatus));
        return reply;
    }

    /// <summary>The fields an env sets, from its canonical JSON.</summary>
    private static List<string> FieldsOf(string canonicalJson)
    {
        if (canonicalJson.Length == 0)
        {
            return [];
        }

        using var document = System.Text.Json.JsonDocument.Parse(canonicalJson);
        return document.RootElement.EnumerateObject().Select(p => p.Name).ToList();
    }

    private static CachedResourceStatus ToStatus(ResourceState state)
    {
        var status = new CachedResourceStatus
        {
            Kind = state.Resource.Kind,
            Name = state.Resource.Name,
            Size = state.Size,
            Users = state.Users,
            LastUsedUnixMs = state.LastUsed.ToUnixTimeMilliseconds(),
        };
        status.EnvHashes.Add(state.Envs);
        return status;
    }
}
