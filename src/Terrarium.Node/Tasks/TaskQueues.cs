namespace Terrarium.Node.Tasks;

/// <summary>
/// Tasks waiting for resources: one FIFO per scheduling class (job, env hash and demand shape),
/// visited in the order the classes appeared, so that a class whose head cannot start does not hold
/// up another. Only non-empty queues are kept, so a visit costs what is waiting, not every class
/// ever seen. Not thread-safe: the <see cref="TaskDispatcher"/> calls it under its lock.
/// </summary>
internal sealed class TaskQueues
{
    private readonly Dictionary<string, LinkedList<TaskRecord>> _byClass = new(StringComparer.Ordinal);

    public int Count => _byClass.Values.Sum(q => q.Count);

    /// <summary>Every task queued, class by class.</summary>
    public IEnumerable<TaskRecord> All => _byClass.Values.SelectMany(q => q);

    /// <summary>Queues a task behind the others of its class.</summary>
    public void Add(TaskRecord task) => QueueOf(task).AddLast(task);

    /// <summary>Puts a task back at the head of its class (a retry, or a task a worker gave back).</summary>
    public void Requeue(TaskRecord task) => QueueOf(task).AddFirst(task);

    /// <summary>Takes a queued task out by id, or null.</summary>
    public TaskRecord? Remove(string taskId)
    {
        foreach (var queue in _byClass.Values)
        {
            for (var node = queue.First; node is not null; node = node.Next)
            {
                if (node.Value.Spec.WorkId == taskId)
                {
                    queue.Remove(node);
                    return node.Value;
                }
            }
        }

        return null;
    }

    /// <summary>Drops every queued task of a job.</summary>
    public void RemoveJob(string jobId)
    {
        foreach (var key in _byClass.Keys.Where(k => k.StartsWith(jobId + "|", StringComparison.Ordinal)).ToList())
        {
            _byClass.Remove(key);
        }
    }

    /// <summary>
    /// Offers each class's tasks, head first, to <paramref name="tryStart"/>, which takes a task
    /// (true) or cannot start it now (false: the rest of that class waits behind it). It must not
    /// queue tasks itself.
    /// </summary>
    public void Drain(Func<TaskRecord, bool> tryStart)
    {
        List<string>? drained = null;
        foreach (var (key, queue) in _byClass)
        {
            while (queue.First is { } head && tryStart(head.Value))
            {
                queue.RemoveFirst();
            }

            if (queue.Count == 0)
            {
                (drained ??= []).Add(key);
            }
        }

        foreach (var key in drained ?? [])
        {
            _byClass.Remove(key);
        }
    }

    private LinkedList<TaskRecord> QueueOf(TaskRecord task)
    {
        if (!_byClass.TryGetValue(task.ClassKey, out var queue))
        {
            _byClass[task.ClassKey] = queue = new LinkedList<TaskRecord>();
        }

        return queue;
    }
}
