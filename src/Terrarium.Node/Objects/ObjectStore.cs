using System.Collections.Concurrent;
using Google.Protobuf;
using Terrarium.Node.Sessions;
using Terrarium.Protocol;

namespace Terrarium.Node.Objects;

/// <summary>The outcome of a task or call: a MessagePack value or an error.</summary>
internal sealed record ObjectResult(ByteString? Value, TaskError? Error)
{
    public static ObjectResult Failed(TaskError error) => new(null, error);
}

/// <summary>
/// Results held on this node until their owner releases them. A task that depends on an object
/// holds its completion task, so releasing never pulls a value out from under a waiting task.
/// Large values live in the shared-memory store when the node has one, up to its capacity; past
/// it, the least recently used spill to disk (see ObjectStore.Spilling.cs).
/// </summary>
internal sealed partial class ObjectStore(SharedMemoryStore? shared = null, string location = SharedMemoryStore.InNodeMemory, long capacity = long.MaxValue) : IDisposable
{
    private readonly ConcurrentDictionary<string, Entry> _objects = new(StringComparer.Ordinal);

    /// <summary>The shared-memory store large values live in, or null when they stay in this process.</summary>
    public SharedMemoryStore? Shared => shared;

    /// <summary>Where large values live, for the node's status: the store, how full it is, and what spilled.</summary>
    public string Location => shared is null ? location
        : $"{location}; {Size(Interlocked.Read(ref _sharedBytes))} of {Size(capacity)} in use, {Volatile.Read(ref _spilledCount)} values spilled to disk";

    public int Count => _objects.Count;

    /// <summary>The bytes of the values held (objects still pending or failed hold none); counted when asked.</summary>
    public long Bytes => _objects.Values.Sum(e => e.Result.Task.IsCompletedSuccessfully ? (long)(e.Result.Task.Result.Value?.Length ?? 0) : 0);

    /// <summary>Creates a pending object; the owner is told when it completes.</summary>
    /// <returns>False when the id is already in use.</returns>
    public bool TryCreate(string id, Session owner) => _objects.TryAdd(id, new Entry(owner));

    /// <summary>Completes an object and notifies its owner. Later completions of the same id are ignored.</summary>
    public void Complete(string id, ObjectResult result)
    {
        if (_objects.TryGetValue(id, out var entry) && entry.Result.TrySetResult(result))
        {
            Admit(id, entry);
            entry.Owner.NotifyReady(id, result);
        }
        else
        {
            Discard(result);
        }
    }

    /// <summary>Creates a pending object its owner holds and will put (an actor call's result).</summary>
    /// <returns>False when the id is already in use.</returns>
    public bool TryPromise(string id, Session owner) => _objects.TryAdd(id, new Entry(owner) { Promised = true });

    /// <summary>
    /// Creates a pending object its owner will have this node copy from another node, or keeps the
    /// owner's promise of it if there is one.
    /// </summary>
    /// <returns>False when the id is in use by anything but the owner's unfulfilled promise.</returns>
    public bool TryPromiseCopy(string id, Session owner) =>
        _objects.TryGetValue(id, out var existing)
            ? existing.Promised && existing.Owner == owner && !existing.Result.Task.IsCompleted
            : TryPromise(id, owner);

    /// <summary>Fulfils the owner's own promise; false when it has none (never made, or released).</summary>
    public bool TryFulfil(string id, Session owner, ObjectResult result)
    {
        if (_objects.TryGetValue(id, out var entry) && entry.Promised && entry.Owner == owner && entry.Result.TrySetResult(result))
        {
            Admit(id, entry);
            return true;
        }

        Discard(result);
        return false;
    }

    /// <summary>Fulfils a promise; nothing happens when the object was released meanwhile.</summary>
    public void Fulfil(string id, ObjectResult result)
    {
        if (_objects.TryGetValue(id, out var entry) && entry.Promised && entry.Result.TrySetResult(result))
        {
            Admit(id, entry);
        }
        else
        {
            Discard(result);
        }
    }

    /// <summary>
    /// Stores a result its owner already has (a put), fulfilling the owner's promise of it if there
    /// is one: no notification goes back.
    /// </summary>
    /// <returns>False when the id is in use by anything but the owner's unfulfilled promise.</returns>
    public bool TryPut(string id, Session owner, ObjectResult result)
    {
        var entry = _objects.TryGetValue(id, out var existing) ? existing : new Entry(owner);
        var stored = entry == existing
            ? existing.Promised && existing.Owner == owner && existing.Result.TrySetResult(result)
            : entry.Result.TrySetResult(result) && _objects.TryAdd(id, entry);
        if (stored)
        {
            Admit(id, entry);
        }
        else
        {
            Discard(result);
        }

        return stored;
    }

    /// <summary>The object's eventual result, or null when this node does not hold it.</summary>
    public Task<ObjectResult>? Find(string id)
    {
        if (!_objects.TryGetValue(id, out var entry))
        {
            return null;
        }

        entry.LastUsed = Entry.NextUse();
        return entry.Result.Task;
    }

    public void Release(string id)
    {
        if (_objects.TryRemove(id, out var entry))
        {
            RemoveStored(entry);
        }
    }

    public void Dispose() => shared?.Dispose();

    /// <summary>
    /// Drops everything a session owns (it ended). What still waits for one of its objects not made
    /// yet (a detached actor's constructor, say, which outlives the session) hears it is lost.
    /// </summary>
    public void ReleaseOwnedBy(Session owner)
    {
        foreach (var (id, entry) in _objects)
        {
            if (entry.Owner == owner && _objects.TryRemove(id, out _))
            {
                entry.Result.TrySetResult(ObjectResult.Failed(new TaskError
                {
                    Kind = ErrorKind.ObjectLost, Message = $"object {id} is lost: the session that owned it ended",
                }));
                RemoveStored(entry);
            }
        }
    }

    private sealed class Entry(Session owner)
    {
        public Session Owner { get; } = owner;

        /// <summary>Completed by the owner's put rather than by a worker.</summary>
        public bool Promised { get; init; }

        public TaskCompletionSource<ObjectResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The bytes it holds in the shared-memory store (0 when none, or spilled); changed with Interlocked.</summary>
        public long SharedBytes;

        /// <summary>When it was last asked for, on a count of uses: spills go least recently used first.</summary>
        public long LastUsed { get; set; } = NextUse();

        public static long NextUse() => Interlocked.Increment(ref s_uses);

        private static long s_uses;
    }
}
