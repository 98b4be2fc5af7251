using Terrarium.Objects;
using Terrarium.Protocol;
using Terrarium.Sessions;

namespace Terrarium.Placement;

/// <summary>Making a large result again when the only node that held it cannot give it.</summary>
internal sealed partial class NodeRouter
{
    /// <summary>
    /// Runs the task of a large result again on another node, because the node that held the result
    /// could not send it: one retry spent, same task id; the handle fetches from the new node once
    /// the result is ready there; <paramref name="lost"/>, saying why not, when no node can run it.
    /// Null when no retry is left.
    /// </summary>
    private Task<ObjectReady>? RebuildElsewhere(PlacedTask task, ObjectReady lost) => task.Submit.MaxRetries > 0 ? RebuildAsync(task, lost) : null;

    /// <remarks>
    /// Nodes often die together (a machine, a rack), and the head declares each dead only after its
    /// timeout. So the task's arguments are fetched here first — made again first, in turn, if their
    /// node is gone too — and go to the new node from here rather than being copied from a node
    /// that may be dead; and a new node that goes away before the result comes is avoided on the
    /// next try, without spending another retry: the task did not fail there.
    /// </remarks>
    private async Task<ObjectReady> RebuildAsync(PlacedTask task, ObjectReady lost)
    {
        var handle = task.Handle;
        var retry = task.Submit.Clone();
        retry.MaxRetries--;
        var avoid = new HashSet<string>(StringComparer.Ordinal) { handle.Session.NodeId };
        foreach (var dependency in task.Dependencies)
        {
            // Here first (made again first if its node is gone too): a promise of it on the new
            // node would stand in the way of making it again there, under the same id.
            await dependency.ValueAsync().ConfigureAwait(false);
        }

        while (true)
        {
            Session target;
            string nodeId;
            ObjectHandle rebuilt;
            try
            {
                (target, nodeId) = Place(retry.Resources, retry.Function.Method, "options", task.Strategy, avoid);
                target.DefineEnv(task.Env);
                foreach (var dependency in task.Dependencies)
                {
                    target.ShareWithNode(dependency, throughThisProcess: true);
                }

                rebuilt = target.TrackRebuild(handle);
                handle.MoveTo(target);
                target.Send(new ClientRequest { SubmitTask = retry });
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or Grpc.Core.RpcException)
            {
                handle.Rebuild = null;
                var notMadeAgain = lost.Clone();
                notMadeAgain.Error.Message += $"; it could not be made again on another node: {e.Message}";
                return notMadeAgain;
            }

            var ready = await rebuilt.Ready.ConfigureAwait(false);
            if (ready.Error is { Kind: ErrorKind.ObjectLost } && target.HasEnded)
            {
                avoid.Add(nodeId);
                continue;
            }

            var next = task with { Submit = retry };
            handle.Rebuild = again => RebuildElsewhere(next, again);
            return ready;
        }
    }
}
