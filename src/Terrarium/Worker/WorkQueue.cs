using Terrarium.Protocol;

namespace Terrarium.Worker;

/// <summary>
/// The commands a worker has received and not started, in order. Tasks sent ahead can be taken
/// back (<see cref="ReclaimTasks"/>) while the running one waits on other work.
/// </summary>
internal sealed class WorkQueue
{
    private readonly Lock _lock = new();
    private readonly LinkedList<WorkerCommand> _commands = new();
    private readonly SemaphoreSlim _available = new(0);
    private bool _completed;

    public void Add(WorkerCommand command)
    {
        lock (_lock)
        {
            _commands.AddLast(command);
        }

        _available.Release();
    }

    public void Complete()
    {
        lock (_lock)
        {
            _completed = true;
        }

        _available.Release();
    }

    /// <summary>The next command, or null once completed and drained.</summary>
    public async Task<WorkerCommand?> TakeAsync()
    {
        while (true)
        {
            await _available.WaitAsync().ConfigureAwait(false);
            lock (_lock)
            {
                if (_commands.First is { } first)
                {
                    _commands.RemoveFirst();
                    return first.Value;
                }

                if (_completed)
                {
                    _available.Release();
                    return null;
                }
            }
        }
    }

    /// <summary>Removes a task that has not started; its command, or null when it is not waiting here.</summary>
    public Execute? Remove(string workId)
    {
        lock (_lock)
        {
            for (var node = _commands.First; node is not null; node = node.Next)
            {
                if (node.Value.Execute is { } execute && execute.WorkId == workId)
                {
                    _commands.Remove(node);
                    return execute;
                }
            }
        }

        return null;
    }

    /// <summary>Removes the tasks not yet started (never the actor's start) and returns their ids, in order.</summary>
    public List<string> ReclaimTasks()
    {
        var taken = new List<string>();
        lock (_lock)
        {
            for (var node = _commands.First; node is not null;)
            {
                var next = node.Next;
                if (node.Value.Execute is { } execute)
                {
                    taken.Add(execute.WorkId);
                    _commands.Remove(node);
                }

                node = next;
            }
        }

        return taken;
    }
}
