using Terrarium.Protocol;

namespace Terrarium.Internal.Placement;

/// <summary>Making a large result again when the only node that held it cannot give it.</summary>
internal sealed partial class NodeRouter
{
    /// <summary>
    /// Runs the task of a large result again on another node, because the node that held the result
    /// could not send it: one retry spent, same task id; the handle fetches from the new node once
    /// the result is ready there. Null when no retry is left or no other node can run the task.
    /// </summary>
    private Task<ObjectReady>? RebuildElsewhere(PlacedTask task)
    {
        var handle = task.Handle;
        if (task.Submit.MaxRetries <= 0)
        {
            return null;
        }

        var retry = task.Submit.Clone();
        retry.MaxRetries--;
        try
        {
            var (target, _) = Place(retry.Resources, retry.Function.Method, "options", avoidNodeId: handle.Session.NodeId);
            target.DefineEnv(task.Env);
            foreach (var dependency in task.Dependencies)
            {
                target.ShareWithNode(dependency);
            }

            var rebuilt = target.TrackRebuild(handle);
            handle.MoveTo(target);
            target.Send(new ClientRequest { SubmitTask = retry });
            var next = task with { Submit = retry };
            handle.Rebuild = () => RebuildElsewhere(next);
            return rebuilt.Ready;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            // No other node could run it, or the chosen one is gone too: the object stays lost.
            return null;
        }
    }
}
