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

        ActorCaller? started = null;
        ActorCaller holding;
        lock (_findingActors)
        {
            if (!_findingActors.TryGetValue(actorId, out holding!))
            {
                holding = started = ActorCaller.WhileFindingNode(Home, actorId, Home.Credentials);
                _findingActors[actorId] = holding;
            }
        }

        if (started is not null)
        {
            _ = FindActorAsync(started, actorId, nodeId, name);
        }

        return holding;
    }

    /// <summary>The session with the node an actor lives on, asking the head when needed; null when that node is dead.</summary>
    public async Task<Session?> SessionOfActorAsync(string actorId, string nodeId, string? name, CancellationToken ct = default)
    {
        if (_moved.TryGetValue(actorId, out var moved))
        {
            return await FindLiveSessionAsync(moved, ct).ConfigureAwait(false);
        }

        if (_nodes.Dead.Contains(nodeId))
        {
            var lookup = name is not null ? new LookupActorRequest { Name = name } : new LookupActorRequest { ActorId = actorId };
            var found = await _head.LookupActorAsync(lookup, cancellationToken: ct).ConfigureAwait(false);
            if (found.Found && found.ActorId == actorId && found.NodeId != nodeId)
            {
                _moved[actorId] = found.NodeId;
                return await FindLiveSessionAsync(found.NodeId, ct).ConfigureAwait(false);
            }
        }

        return await FindLiveSessionAsync(nodeId, ct).ConfigureAwait(false);
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
        catch (Exception e)
        {
            // Whatever went wrong, the calls held must not wait for ever.
            notFound = new TaskError
            {
                Kind = ErrorKind.ObjectLost,
                Message = $"the result of a call to actor {actorId} is lost: which node the actor is on could not be found ({(e is Grpc.Core.RpcException rpc ? rpc.Status.Detail : e.Message)})",
            };
            session = null;
        }

        // The calls held go first; only then do new calls find the actor's caller themselves
        // (until then they come here, and follow the held ones).
        if (session is not null)
        {
            finding.OnNodeFound(session.CallerOf(actorId));
        }
        else
        {
            finding.OnNodeNotFound(notFound!);
        }

        lock (_findingActors)
        {
            _findingActors.Remove(actorId);
        }
    }
}
