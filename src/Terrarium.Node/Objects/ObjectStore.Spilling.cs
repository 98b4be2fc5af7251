using Terrarium.Protocol;

namespace Terrarium.Node.Objects;

/// <summary>
/// The shared-memory store's capacity: the bytes of the values in it are counted, and past the
/// capacity the least recently used go to disk — copied to the store's spill folder and mapped from
/// there in place of their tmpfs file, which goes. They stay readable (from disk, so more slowly);
/// whoever mapped the tmpfs file before keeps reading it until they let go.
/// </summary>
internal sealed partial class ObjectStore
{
    // The bytes of values whose file is in the shared-memory store.
    private long _sharedBytes;
    private int _spilledCount;
    private int _spilling;
    // Orders the arrival, spill and release of a value, so that none is left on disk or miscounted.
    private readonly Lock _gate = new();

    /// <summary>
    /// A value arrived for <paramref name="entry"/>: counted against the capacity (spilling if it is
    /// over) — or, when the entry was released meanwhile, removed at once.
    /// </summary>
    private void Admit(string id, Entry entry)
    {
        if (shared is null || entry.Result.Task.Result.Value is not { } value || !shared.Holds(value))
        {
            return;
        }

        lock (_gate)
        {
            if (!_objects.TryGetValue(id, out var still) || still != entry)
            {
                SharedMemoryStore.Remove(value);
                return;
            }

            Interlocked.Exchange(ref entry.SharedBytes, value.Length);
        }

        if (Interlocked.Add(ref _sharedBytes, value.Length) > capacity && Interlocked.Exchange(ref _spilling, 1) == 0)
        {
            // Copying to disk takes a while: not on the thread that delivers results.
            _ = Task.Run(SpillWhileOver);
        }
    }

    /// <summary>A value that found no entry to hold it (its object was released, or never made here) leaves the store.</summary>
    public void Discard(ObjectResult result)
    {
        if (shared is not null && result.Value is { } value && shared.Holds(value))
        {
            SharedMemoryStore.Remove(value);
        }
    }

    private void SpillWhileOver()
    {
        try
        {
            while (Interlocked.Read(ref _sharedBytes) > capacity && LeastRecentlyUsed() is { } entry)
            {
                Spill(entry);
            }
        }
        finally
        {
            Volatile.Write(ref _spilling, 0);
        }

        // A value admitted while the last spill finished is not left over the capacity.
        if (Interlocked.Read(ref _sharedBytes) > capacity && Interlocked.Exchange(ref _spilling, 1) == 0)
        {
            _ = Task.Run(SpillWhileOver);
        }
    }

    private Entry? LeastRecentlyUsed()
    {
        Entry? oldest = null;
        foreach (var entry in _objects.Values)
        {
            if (Interlocked.Read(ref entry.SharedBytes) > 0 && (oldest is null || entry.LastUsed < oldest.LastUsed))
            {
                oldest = entry;
            }
        }

        return oldest;
    }

    private void Spill(Entry entry)
    {
        var value = entry.Result.Task.Result.Value!;
        string copy;
        try
        {
            // The copy, which takes a while, is made outside the gate: results keep arriving meanwhile.
            copy = shared!.CopyToDisk(value);
        }
        catch (IOException)
        {
            // Released meanwhile, or the disk is full: it stays where it is, no longer counted (or tried again).
            Uncount(entry);
            return;
        }

        lock (_gate)
        {
            if (Interlocked.Read(ref entry.SharedBytes) == 0)
            {
                // Released meanwhile.
                File.Delete(copy);
                return;
            }

            try
            {
                shared.MoveToDisk(value, copy);
                Interlocked.Increment(ref _spilledCount);
            }
            catch (IOException)
            {
                File.Delete(copy);
            }

            Uncount(entry);
        }
    }

    private void Uncount(Entry entry) => Interlocked.Add(ref _sharedBytes, -Interlocked.Exchange(ref entry.SharedBytes, 0));

    /// <summary>A value in the shared-memory store (or spilled) leaves it with its entry; mappings of it stay valid.</summary>
    private void RemoveStored(Entry entry)
    {
        lock (_gate)
        {
            Uncount(entry);
            if (entry.Result.Task.IsCompletedSuccessfully && entry.Result.Task.Result.Value is { } value)
            {
                SharedMemoryStore.Remove(value);
            }
        }
    }

    private static string Size(long bytes) => bytes == long.MaxValue ? "no limit" : Sizes.Format(bytes);
}
