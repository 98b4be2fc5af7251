using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using Mono.Unix.Native;
using Terrarium.Protocol;
using Terrarium.Protocol.LocalFiles;
using Terrarium.Protocol.SharedMemory;

namespace Terrarium.Node.Objects;

/// <summary>
/// The node's shared-memory object store: large values are files on a tmpfs, in a folder only this
/// user may enter (<c>&lt;root&gt;/terrarium-&lt;uid&gt;/&lt;node-id&gt;</c>), held once per machine.
/// Workers write their large results into its staging folder; the node moves each into its sealed
/// folder, makes it read-only and maps it; drivers of this machine map the same file instead of
/// fetching the value. A value's file goes when its owner releases it; mappings made before stay
/// readable. Folders of nodes that died without cleaning up are removed by the next node to start.
/// </summary>
internal sealed class SharedMemoryStore : IDisposable
{
    // A tmpfs smaller than this (a container's 64 MiB /dev/shm) would be full after a few values.
    internal const long MinimumBytes = 256L << 20;
    // Held while the node runs: a folder whose lock anyone else can take belongs to a dead node.
    private readonly FileStream _lock;

    private SharedMemoryStore(string folder, FileStream ownerLock, string spillFolder)
    {
        Folder = folder;
        _lock = ownerLock;
        Staging = PrivateDirectory.Create(Path.Combine(folder, StoreLayout.Staging));
        Sealed = PrivateDirectory.Create(Path.Combine(folder, StoreLayout.Sealed));
        SpillFolder = PrivateDirectory.Create(spillFolder);
    }

    /// <summary>The node's folder in the store.</summary>
    public string Folder { get; }

    /// <summary>Where workers write the large results they make.</summary>
    public string Staging { get; }

    /// <summary>Where the values the node took over live, read-only.</summary>
    public string Sealed { get; }

    /// <summary>Where values go on disk when the store is over its capacity (a folder of the node's cache).</summary>
    public string SpillFolder { get; }

    /// <summary>
    /// Opens the node's folder in the store under <paramref name="root"/>, or says why large values
    /// stay in the node's own memory: no root, not a tmpfs, too small, or a folder that is not this
    /// user's private one (planted, or a link).
    /// </summary>
    /// <param name="root">The tmpfs.</param>
    /// <param name="nodeId">The node's id: its folder's name.</param>
    /// <param name="spillRoot">A folder on disk, where each node spills in a folder of its own.</param>
    /// <returns>The store (null when there is none) and where large values live, for the node's status.</returns>
    public static (SharedMemoryStore? Store, string Description) Open(string? root, string nodeId, string spillRoot)
    {
        const string InMemory = "the node's own memory";
        if (string.IsNullOrEmpty(root))
        {
            return (null, $"{InMemory} (no shared-memory store configured)");
        }

        if (!Directory.Exists(root))
        {
            return (null, $"{InMemory}: {root} does not exist");
        }

        if (Syscall.statvfs(root, out var space) != 0 || !IsTmpfs(root))
        {
            return (null, $"{InMemory}: {root} is not a tmpfs");
        }

        var total = (long)(space.f_blocks * space.f_frsize);
        if (total < MinimumBytes)
        {
            return (null, $"{InMemory}: {root} holds {Size(total)}, less than the {Size(MinimumBytes)} a store needs (a container's --shm-size, say)");
        }

        try
        {
            var user = PrivateDirectory.Create(Path.Combine(root, $"terrarium-{PrivateDirectory.CurrentUserId}"),
                "Another user could read or replace the values of the cluster's tasks there; remove it and start again.");
            RemoveDeadNodes(user, spillRoot);
            var name = nodeId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_') ? nodeId : SafeName(nodeId);
            var folder = PrivateDirectory.Create(Path.Combine(user, name));
            var ownerLock = new FileStream(Path.Combine(folder, StoreLayout.OwnerLock), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            var store = new SharedMemoryStore(folder, ownerLock, Path.Combine(PrivateDirectory.Create(spillRoot), name));
            return (store, $"shared memory at {folder} ({Size((long)(space.f_bavail * space.f_frsize))} free of {Size(total)})");
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return (null, $"{InMemory}: {e.Message}");
        }
    }

    /// <summary>
    /// Takes over a value a worker wrote to the staging folder as the value of <paramref name="objectId"/>:
    /// moved to the sealed folder (a link is moved as a link, and refused below), made read-only, mapped.
    /// </summary>
    /// <exception cref="IOException">There is no such file, or it is not the regular file of this user, of that length, it should be.</exception>
    public ByteString TakeOver(StoredValue stored, string objectId)
    {
        if (stored.FileName.Length == 0 || stored.FileName != Path.GetFileName(stored.FileName) || stored.FileName is "." or "..")
        {
            throw new IOException($"'{stored.FileName}' is not the name of a file in the staging folder");
        }

        var path = Path.Combine(Sealed, SafeName(objectId));
        File.Move(Path.Combine(Staging, stored.FileName), path, overwrite: true);
        try
        {
            return MappedValue.Map(path, stored.Length, seal: true);
        }
        catch (IOException)
        {
            File.Delete(path);
            throw;
        }
    }

    /// <summary>Whether <paramref name="value"/> is a mapping of a file in this store's tmpfs (not spilled).</summary>
    public bool Holds(ByteString value) =>
        value.Length > 0 && MappedValue.Of(value) is { } mapped && mapped.Path.StartsWith(Sealed + "/", StringComparison.Ordinal);

    /// <summary>
    /// Moves a value of the store to disk: copied to the spill folder, sealed and mapped there, then
    /// its tmpfs file removed (whoever mapped it keeps reading it until they let go).
    /// </summary>
    /// <returns>The value, mapped from disk.</returns>
    /// <exception cref="IOException">Its file is gone (released meanwhile), or the disk is full.</exception>
    public ByteString Spill(ByteString value, string objectId)
    {
        var from = MappedValue.Of(value)?.Path ?? throw new IOException($"object {objectId} is not in the shared-memory store");
        var to = Path.Combine(SpillFolder, SafeName(objectId));
        File.Copy(from, to, overwrite: true);
        ByteString onDisk;
        try
        {
            onDisk = MappedValue.Map(to, value.Length, seal: true);
        }
        catch (IOException)
        {
            File.Delete(to);
            throw;
        }

        File.Delete(from);
        return onDisk;
    }

    /// <summary>Removes a value's file from the store, if it is one of its values; mappings of it stay readable.</summary>
    public static void Remove(ByteString value)
    {
        if (MappedValue.Of(value) is { } mapped)
        {
            File.Delete(mapped.Path);
        }
    }

    public void Dispose()
    {
        foreach (var folder in new[] { Folder, SpillFolder })
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Whatever is left goes when the next node on this machine starts.
            }
        }

        _lock.Dispose();
    }

    private static void RemoveDeadNodes(string user, string spillRoot)
    {
        foreach (var folder in Directory.EnumerateDirectories(user))
        {
            if (StoreLayout.OwnerIsAlive(folder))
            {
                continue;
            }

            try
            {
                Directory.Delete(folder, recursive: true);
                var spilled = Path.Combine(spillRoot, Path.GetFileName(folder));
                if (Directory.Exists(spilled))
                {
                    Directory.Delete(spilled, recursive: true);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Removed by another node starting at the same moment, say.
            }
        }
    }

    private static bool IsTmpfs(string path)
    {
        // statfs' f_type is not in Mono.Posix; /proc/self/mounts says the same: the longest mount
        // point that contains the path is the filesystem it is on.
        var full = Path.GetFullPath(path).TrimEnd('/') + "/";
        var (point, type) = ("", "");
        foreach (var line in File.ReadLines("/proc/self/mounts"))
        {
            var fields = line.Split(' ');
            if (fields.Length > 2 && full.StartsWith(fields[1].TrimEnd('/') + "/", StringComparison.Ordinal) && fields[1].Length >= point.Length)
            {
                (point, type) = (fields[1], fields[2]);
            }
        }

        return type == "tmpfs";
    }

    /// <summary>A file name for an id (ids may hold '/'): distinct ids, distinct names.</summary>
    private static string SafeName(string id) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(id)))[..32];

    private static string Size(long bytes) => $"{bytes / (double)(1L << 30):0.0} GiB";
}
