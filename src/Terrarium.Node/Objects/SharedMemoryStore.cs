using System.Globalization;
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
/// Each worker and client session writes its large values into a staging folder of its own; the
/// node moves each into its sealed folder, makes it read-only and maps it; drivers and workers of
/// this machine map the same file instead of fetching the value. A value's file goes when its owner
/// releases it; mappings made before stay readable. Folders of nodes that died without cleaning up
/// are removed by the next node to start.
/// </summary>
internal sealed class SharedMemoryStore : IDisposable
{
    /// <summary>Where large values live when there is no store, for the node's status.</summary>
    public const string InNodeMemory = "the node's own memory";

    // A tmpfs smaller than this (a container's 64 MiB /dev/shm) would be full after a few values.
    internal const long MinimumBytes = 256L << 20;
    private const string StartingLock = "starting.lock";
    // Held while the node runs: a folder whose lock anyone else can take belongs to a dead node.
    private readonly FileStream _lock;

    private SharedMemoryStore(string folder, FileStream ownerLock, string spillFolder, long size)
    {
        Folder = folder;
        _lock = ownerLock;
        Size = size;
        Staging = PrivateDirectory.Create(Path.Combine(folder, StoreLayout.Staging));
        Sealed = PrivateDirectory.Create(Path.Combine(folder, StoreLayout.Sealed));
        SpillFolder = PrivateDirectory.Create(spillFolder);
    }

    /// <summary>The node's folder in the store.</summary>
    public string Folder { get; }

    /// <summary>The staging folders of workers and sessions are in here.</summary>
    public string Staging { get; }

    /// <summary>Where the values the node took over live, read-only.</summary>
    public string Sealed { get; }

    /// <summary>Where values go on disk when the store is over its capacity (a folder of the node's cache).</summary>
    public string SpillFolder { get; }

    /// <summary>The size of the tmpfs: the store never holds more.</summary>
    public long Size { get; }

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
        if (string.IsNullOrEmpty(root))
        {
            return (null, $"{InNodeMemory} (no shared-memory store configured)");
        }

        if (!Directory.Exists(root))
        {
            return (null, $"{InNodeMemory}: {root} does not exist");
        }

        if (Syscall.statvfs(root, out var space) != 0 || !IsTmpfs(root))
        {
            return (null, $"{InNodeMemory}: {root} is not a tmpfs");
        }

        var total = (long)(space.f_blocks * space.f_frsize);
        if (total < MinimumBytes)
        {
            return (null, $"{InNodeMemory}: {root} holds {Gibibytes(total)}, less than the {Gibibytes(MinimumBytes)} a store needs (a container's --shm-size, say)");
        }

        try
        {
            var user = PrivateDirectory.Create(Path.Combine(root, $"terrarium-{PrivateDirectory.CurrentUserId}"),
                "Another user could read or replace the values of the cluster's tasks there; remove it and start again.");
            // One node at a time between here and holding its lock: a node's folder without its lock
            // yet would look dead to another node starting at the same moment.
            using var starting = TakeStartingLock(user);
            RemoveDeadNodes(user, spillRoot);
            var name = FolderName(nodeId);
            var folder = PrivateDirectory.Create(Path.Combine(user, name));
            var ownerLock = new FileStream(Path.Combine(folder, StoreLayout.OwnerLock), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            var store = new SharedMemoryStore(folder, ownerLock, Path.Combine(PrivateDirectory.Create(spillRoot), name), total);
            return (store, $"shared memory at {folder} ({Gibibytes((long)(space.f_bavail * space.f_frsize))} free of {Gibibytes(total)})");
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return (null, $"{InNodeMemory}: {e.Message}");
        }
    }

    /// <summary>The staging folder of one worker or session (created on first use): it writes there, and nobody else does.</summary>
    public string StagingFor(string owner) => PrivateDirectory.Create(Path.Combine(Staging, FolderName(owner)));

    /// <summary>Removes a worker's or session's staging folder, with what it wrote and never handed over.</summary>
    public void RemoveStagingOf(string owner) => DeleteFolder(Path.Combine(Staging, FolderName(owner)));

    /// <summary>
    /// Takes over a value written to <paramref name="stagingFolder"/> (the sender's own): moved to the
    /// sealed folder under its own unique name (a link is moved as a link, and refused below), made
    /// read-only, mapped.
    /// </summary>
    /// <exception cref="IOException">There is no such file, or it is not the regular file of this user, of that length, it should be.</exception>
    public ByteString TakeOver(StoredValue stored, string stagingFolder)
    {
        // StagedValue names files with 32 hex digits: anything else is not one of them (no '/', '..' or NUL).
        if (stored.FileName.Length != 32 || !stored.FileName.All(char.IsAsciiHexDigitLower))
        {
            throw new IOException($"'{stored.FileName}' is not the name of a file in the staging folder");
        }

        var path = Path.Combine(Sealed, stored.FileName);
        try
        {
            File.Move(Path.Combine(stagingFolder, stored.FileName), path, overwrite: false);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new IOException(e.Message, e);
        }

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

    /// <summary>Copies a value of the store to the spill folder, on disk, for <see cref="MoveToDisk"/>.</summary>
    /// <returns>The copy.</returns>
    /// <exception cref="IOException">Its file is gone (released meanwhile), or the disk is full.</exception>
    public string CopyToDisk(ByteString value)
    {
        var from = MappedValue.Of(value)?.Path ?? throw new IOException("the value is not in the shared-memory store");
        var to = Path.Combine(SpillFolder, Path.GetFileName(from));
        try
        {
            File.Copy(from, to, overwrite: false);
            return to;
        }
        catch (UnauthorizedAccessException e)
        {
            throw new IOException(e.Message, e);
        }
    }

    /// <summary>
    /// Maps <paramref name="copy"/> in place of the value's tmpfs file, which goes: readers of the
    /// value here read the disk copy from now on (whoever else mapped the file keeps it until they let go).
    /// </summary>
    /// <exception cref="IOException">The copy cannot be mapped there.</exception>
    public void MoveToDisk(ByteString value, string copy)
    {
        var mapped = MappedValue.Of(value)!;
        var from = mapped.Path;
        mapped.RemapTo(copy);
        File.Delete(from);
    }

    /// <summary>Removes a value's file from the store (or from disk, spilled), if it is one of its values; mappings of it stay readable.</summary>
    public static void Remove(ByteString value)
    {
        if (MappedValue.Of(value) is { } mapped)
        {
            File.Delete(mapped.Path);
        }
    }

    public void Dispose()
    {
        DeleteFolder(Folder);
        DeleteFolder(SpillFolder);
        _lock.Dispose();
    }

    private static FileStream TakeStartingLock(string user)
    {
        for (var tries = 0; ; tries++)
        {
            try
            {
                return new FileStream(Path.Combine(user, StartingLock), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (tries < 200)
            {
                // Another node of this user is starting: it takes a moment.
                Thread.Sleep(50);
            }
        }
    }

    private static void RemoveDeadNodes(string user, string spillRoot)
    {
        foreach (var folder in Directory.EnumerateDirectories(user))
        {
            if (!StoreLayout.OwnerIsAlive(folder))
            {
                DeleteFolder(folder);
                DeleteFolder(Path.Combine(spillRoot, Path.GetFileName(folder)));
            }
        }
    }

    private static void DeleteFolder(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Gone already.
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Whatever is left goes when the next node on this machine starts.
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

    /// <summary>A folder name for an id: the id when it is plain, else a hash (ids may hold '/').</summary>
    private static string FolderName(string id) =>
        id.Length is > 0 and <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_') ? id
            : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(id)))[..32];

    private static string Gibibytes(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.0} GiB");
}
