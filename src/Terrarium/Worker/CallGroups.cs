using System.Reflection;
using Terrarium.Actors;
using Terrarium.Protocol;

namespace Terrarium.Worker;

/// <summary>
/// Runs an actor's calls in its concurrency groups (<see cref="ConcurrencyGroups"/>): each group
/// runs up to its size of calls at once, and starts the calls waiting for it in the order they
/// were taken. A full group holds up only its own calls.
/// </summary>
internal sealed class CallGroups
{
    private readonly ConcurrencyGroups _declared;
    private readonly Func<FunctionDescriptor, MethodBase> _resolve;
    private readonly Dictionary<string, TurnQueue> _queues;

    /// <param name="declared">The groups the actor's class declares.</param>
    /// <param name="maxConcurrency">The default group's size.</param>
    /// <param name="resolve">The method a call names (it may throw: the call's run reports that).</param>
    public CallGroups(ConcurrencyGroups declared, int maxConcurrency, Func<FunctionDescriptor, MethodBase> resolve)
    {
        _declared = declared;
        _resolve = resolve;
        _queues = declared.Sizes(maxConcurrency).ToDictionary(g => g.Key, g => new TurnQueue(g.Value), StringComparer.Ordinal);
    }

    /// <summary>The queue of the group the call runs in, or why it cannot run.</summary>
    public (TurnQueue? Queue, string? Refused) Choose(ActorCall call)
    {
        var group = call.ConcurrencyGroup;
        if (group.Length == 0)
        {
            try
            {
                group = _declared.GroupOf(_resolve(call.Method));
            }
            catch (Exception)
            {
                // A method the worker cannot find: its run fails saying why, in any group.
                group = ConcurrencyGroups.DefaultGroup;
            }
        }

        return _queues.TryGetValue(group, out var queue) ? (queue, null) : (null, _declared.RefuseGroup(group));
    }
}

/// <summary>Runs up to a number of works at once; the others wait, and start in the order they came.</summary>
internal sealed class TurnQueue(int size)
{
    private readonly Lock _lock = new();
    private readonly Queue<Func<Task>> _waiting = new();
    private int _running;

    /// <summary>Starts <paramref name="work"/> now if a turn is free, or once one is. The work must not throw.</summary>
    public void Run(Func<Task> work)
    {
        lock (_lock)
        {
            if (_running == size)
            {
                _waiting.Enqueue(work);
                return;
            }

            _running++;
        }

        _ = RunThenTheWaitingAsync(work);
    }

    private async Task RunThenTheWaitingAsync(Func<Task> work)
    {
        while (true)
        {
            await work().ConfigureAwait(false);
            lock (_lock)
            {
                if (!_waiting.TryDequeue(out work!))
                {
                    _running--;
                    return;
                }
            }
        }
    }
}
