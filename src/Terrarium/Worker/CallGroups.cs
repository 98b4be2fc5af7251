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
        RunsOneAtATime = !declared.AnyDeclared && maxConcurrency == 1;
    }

    /// <summary>One group of one turn, for an actor that declares no groups.</summary>
    public static CallGroups OneAtATime { get; } = new(ConcurrencyGroups.None, 1, _ => throw new InvalidOperationException("one group: no method is looked up"));

    /// <summary>Whether there is one group, of one turn: calls run one at a time, in the order taken.</summary>
    public bool RunsOneAtATime { get; }

    /// <summary>Why the call cannot run: it names a group the actor lacks. Null when it can.</summary>
    public string? Refuse(ActorCall call) => call.ConcurrencyGroup.Length == 0 ? null : _declared.RefuseGroup(call.ConcurrencyGroup);

    /// <summary>The queue of the group the call runs in, or why it cannot run.</summary>
    public (TurnQueue? Queue, string? Refused) Choose(ActorCall call)
    {
        if (Refuse(call) is { } refused)
        {
            return (null, refused);
        }

        var group = call.ConcurrencyGroup;
        if (group.Length == 0)
        {
            MethodBase method;
            try
            {
                method = _resolve(call.Method);
            }
            catch (Exception)
            {
                // A method the worker cannot find: its run fails saying why, in any group.
                return (_queues[ConcurrencyGroups.DefaultGroup], null);
            }

            try
            {
                group = _declared.GroupOf(method);
            }
            catch (ArgumentException e)
            {
                return (null, e.Message);
            }
        }

        return (_queues[group], null);
    }
}

/// <summary>Runs up to a number of works at once; the others wait, and are started in the order they came.</summary>
internal sealed class TurnQueue(int size)
{
    private readonly Lock _lock = new();
    private readonly Queue<Func<Task>> _waiting = new();
    private int _running;

    /// <summary>Starts <paramref name="work"/> now if a turn is free, or once one is.</summary>
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
            try
            {
                await work().ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The work reports its own failures; whatever escapes must not keep its turn from the next.
            }

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
