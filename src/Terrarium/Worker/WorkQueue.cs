
namespace Terrarium.Worker;

/// <summary>
/// The work a worker has received and not started, in order. Tasks sent ahead can be taken back
/// (<see cref="ReclaimTasks"/>) while the running one waits on other work.
/// </summary>
internal sealed class WorkQueue
{
    private readonly Lock _lock = new();
    private readonly LinkedList<WorkItem> _items = new();
    private readonly SemaphoreSlim _available = new(0);
    private bool _completed;

    public void Add(WorkItem item)
    {
        lock (_lock)
        {
            _items.AddLast(item);
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

    /// <summary>The next item, or null once completed and drained.</summary>
    public async Task<WorkItem?> TakeAsync()
    {
        while (true)
        {
            await _available.WaitAsync().ConfigureAwait(false);
            lock (_lock)
            {
                if (_items.First is { } first)
                {
                    _items.RemoveFirst();
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

    /// <summary>Removes the tasks not yet started (never actor work) and returns their ids, in order.</summary>
    public List<string> ReclaimTasks()
    {
        var taken = new List<string>();
        lock (_lock)
        {
            for (var node = _items.First; node is not null;)
            {
                var next = node.Next;
                if (node.Value.Command?.Execute is { } execute)
                {
                    taken.Add(execute.WorkId);
                    _items.Remove(node);
                }

                node = next;
            }
        }

        return taken;
    }
}
