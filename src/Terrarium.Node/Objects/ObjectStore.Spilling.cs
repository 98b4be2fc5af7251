using System.Globalization;

namespace Terrarium.Node.Objects;

/// <summary>
/// The shared-memory store's capacity: the bytes of the values in it are counted, and past the
/// capacity the least recently used go to disk — copied to the store's spill folder, mapped from
/// there, their tmpfs file removed. They stay readable (from disk, so more slowly); whoever mapped
/// the tmpfs file before keeps reading it until they let go.
/// </summary>
internal sealed partial class ObjectStore
{
    // The bytes of values whose file is in the shared-memory store.
    private long _sharedBytes;
    private int _spilledCount;
    private int _spilling;
    // Taken by the final step of a spill and by releases, so that a value released meanwhile is not left on disk.
    private readonly Lock _spillGate = new();

    /// <summary>Counts a value that just arrived against the capacity, and spills if it is over. Always true.</summary>
    private bool Admit(Entry entry)
    {
        if (shared is null || entry.Result.Task.Result.Value is not { } value || !shared.Holds(value))
        {
            return true;
        }

        entry.SharedBytes = value.Length;
        if (Interlocked.Add(ref _sharedBytes, value.Length) > capacity && Interlocked.Exchange(ref _spilling, 1) == 0)
        {
            // Copying to disk takes a while: not on the thread that delivers results.
            _ = Task.Run(SpillWhileOver);
        }

        return true;
    }

    private void SpillWhileOver()
    {
        try
        {
            while (Interlocked.Read(ref _sharedBytes) > capacity && LeastRecentlyUsed() is var (id, entry))
            {
                Spill(id, entry);
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

    private (string Id, Entry Entry)? LeastRecentlyUsed()
    {
        (string, Entry)? oldest = null;
        foreach (var (id, entry) in _objects)
        {
            if (entry.SharedBytes > 0 && (oldest is null || entry.LastUsed < oldest.Value.Item2.LastUsed))
            {
                oldest = (id, entry);
            }
        }

        return oldest;
    }

    private void Spill(string id, Entry entry)
    {
        Google.Protobuf.ByteString onDisk;
        try
        {
            onDisk = shared!.Spill(entry.Result.Task.Result.Value!, id);
        }
        catch (IOException)
        {
            // Its file went meanwhile (released), or the disk is full: it stays where it is, uncounted.
            Uncount(entry);
            return;
        }

        lock (_spillGate)
        {
            if (_objects.TryGetValue(id, out var still) && still == entry)
            {
                entry.Spilled = Task.FromResult(new ObjectResult(onDisk, null));
                Interlocked.Increment(ref _spilledCount);
            }
            else
            {
                SharedMemoryStore.Remove(onDisk);
            }

            Uncount(entry);
        }
    }

    private void Uncount(Entry entry)
    {
        var bytes = entry.SharedBytes;
        entry.SharedBytes = 0;
        Interlocked.Add(ref _sharedBytes, -bytes);
    }

    /// <summary>A value in the shared-memory store (or spilled) leaves it with its entry; mappings of it stay valid.</summary>
    private void RemoveStored(Entry entry)
    {
        lock (_spillGate)
        {
            Uncount(entry);
            if (entry.Current.IsCompletedSuccessfully && entry.Current.Result.Value is { } value)
            {
                SharedMemoryStore.Remove(value);
            }
        }
    }

    private static string Size(long bytes) => bytes == long.MaxValue ? "no limit"
        : string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1 << 20):0.#} MiB");
}
