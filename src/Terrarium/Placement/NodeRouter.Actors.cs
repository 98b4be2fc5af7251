using Terrarium.Actors;
using Terrarium.Protocol;
using Terrarium.Sessions;

namespace Terrarium.Placement;

/// <summary>Where an actor's calls go: the node it was created on, or the one it moved to.</summary>
internal sealed partial class NodeRouter
{
    // Callers holding an actor's calls while the head is asked where it is, by actor id.
    private readonly Dictionary<string, ActorCaller> _findingActors = new(StringComparer.Ordinal);

    /// <summary>
    /// The caller for an actor's calls, without waiting: its node's, when this connection knows the
    /// node is alive; null when it knows the node is dead and the actor did not move. Otherwise the
    /// head is asked, in the background, and the caller returned holds the calls in order until the
    /// answer comes: an actor whose node died may have been created again elsewhere by the driver
    /// that made it, and a node this connection has not heard of may have joined since.
    /// </summary>
    public ActorCaller? CallerOfActor(string actorId, string nodeId, string? name)
    {
        lock (_findingActors)
        {
            if (_findingActors.TryGetValue(actorId, out var finding))
            {
                return finding;
            }
        }

        var moved = _moved.TryGetValue(actorId, out var movedTo);
        var at = moved ? movedTo! : nodeId;
        if (OpenLiveSession(at) is { } session)
        {
            return session.CallerOf(actorId);
        }

        if (moved && _nodes.Dead.Contains(at) && !_nodes.Restored.Contains(at))
        {
            return null;
        }

        lock (_findingActors)
        {
            if (!_findingActors.TryGetValue(actorId, out var finding))
            {
                finding = ActorCaller.WhileFindingNode(Home, actorId, Home.Credentials);
                _findingActors[actorId] = finding;
                _ = FindActorAsync(finding, actorId, nodeId, name);
            }

            return finding;
        }
    }

    /// <summary>The session with the node an actor lives on, asking the head when needed; null when that node is dead.</summary>
    public async Task<Session?> SessionOfActorAsync(string actorId, string nodeId, string? name)
    {
        if (_moved.TryGetValue(actorId, out var moved))
        {
            return await FindLiveSessionAsync(moved).ConfigureAwait(false);
        }

        if (_nodes.Dead.Contains(nodeId))
        {
            var found = await _head.LookupActorAsync(name is not null ? new LookupActorRequest { Name = name } : new LookupActorRequest { ActorId = actorId }).ConfigureAwait(false);
            if (found.Found && found.ActorId == actorId && found.NodeId != nodeId)
            {
                _moved[actorId] = found.NodeId;
                return await FindLiveSessionAsync(found.NodeId).ConfigureAwait(false);
            }
        }

        return await FindLiveSessionAsync(nodeId).ConfigureAwait(false);
    }

    /// <summary>Why calls to an actor fail when its node is gone and it was not created again elsewhere.</summary>
    public static TaskError ActorGone(string actorId, string nodeId) => new()
    {
        Kind = ErrorKind.ActorDied,
        Message = $"actor {actorId} died with its node: node {nodeId} is not an alive node of the cluster, and the actor was not created again elsewhere",
    };

    private async Task FindActorAsync(ActorCaller finding, string actorId, string nodeId, string? name)
    {
        Session? session = null;
        TaskError? notFound;
        try
        {
            session = await SessionOfActorAsync(actorId, nodeId, name).ConfigureAwait(false);
            notFound = session is null ? ActorGone(actorId, nodeId) : null;
        }
        catch (Grpc.Core.RpcException e)
        {
            notFound = new TaskError
            {
                Kind = ErrorKind.ObjectLost,
                Message = $"the result of a call to actor {actorId} is lost: the head could not say which node the actor is on ({e.Status.Detail})",
            };
        }

        lock (_findingActors)
        {
            // From here, calls find the actor's caller themselves; the ones that took this caller
            // before are handed over to it, ahead of them.
            _findingActors.Remove(actorId);
        }

        if (session is not null)
        {
            finding.OnNodeFound(session.CallerOf(actorId));
        }
        else
        {
            finding.OnNodeNotFound(notFound!);
        }
    }
}
