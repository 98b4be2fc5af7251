namespace Terrarium.Protocol.LocalFiles;

/// <summary>
/// One running cluster's private folder under this user's runtime folder: its sockets, worker
/// logs and scratch files. The folder holds a lock for as long as its owner lives (the kernel drops
/// it when the process dies, however it dies), so the next session can tell an abandoned folder —
/// a driver that crashed — from a live one, and remove it.
/// </summary>
public sealed class SessionFolder : IDisposable
{
    private const string LockFileName = "session.lock";
    private readonly FileStream _lock;

    private SessionFolder(string path, FileStream lockFile)
    {
        Path = path;
        _lock = lockFile;
    }

    /// <summary>The folder's full path.</summary>
    public string Path { get; }

    /// <summary>
    /// Creates a new session folder under <paramref name="root"/> (default: this user's runtime
    /// folder), after removing the folders of sessions whose owner is gone.
    /// </summary>
    /// <exception cref="UnauthorizedAccessException">The root folder is not this user's private folder.</exception>
    public static SessionFolder Create(string? root = null)
    {
        root = root is null ? PrivateDirectory.ForRuntime() : PrivateDirectory.Create(root);
        RemoveAbandoned(root);
        // Short names: Unix socket paths are limited to about 100 bytes.
        var path = PrivateDirectory.Create(System.IO.Path.Combine(root, Guid.NewGuid().ToString("N")[..12]));
        // Locked under another name first: a session cleaning up at this moment must never see an
        // unlocked session.lock of a folder that is about to be used.
        var pending = System.IO.Path.Combine(path, LockFileName + ".new");
        var lockFile = Open(pending, FileMode.CreateNew) ?? throw new IOException($"could not lock the new session folder '{path}'");
        File.Move(pending, System.IO.Path.Combine(path, LockFileName));
        return new SessionFolder(path, lockFile);
    }

    /// <summary>Releases the lock and deletes the folder (what cannot be deleted now is left for the next session).</summary>
    public void Dispose()
    {
        _lock.Dispose();
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A worker's log may still be closing; the next session removes the folder.
        }
    }

    /// <summary>Removes the session folders under <paramref name="root"/> that no live process holds.</summary>
    public static void RemoveAbandoned(string root)
    {
        foreach (var folder in Directory.EnumerateDirectories(root))
        {
            using var free = Open(System.IO.Path.Combine(folder, LockFileName), FileMode.Open);
            if (free is null)
            {
                continue;
            }

            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Being removed by another session at the same moment, or partly in use: try next time.
            }
        }
    }

    /// <summary>Whether <paramref name="folder"/> is a session folder whose owner is alive.</summary>
    public static bool IsLive(string folder)
    {
        if (!File.Exists(System.IO.Path.Combine(folder, LockFileName)))
        {
            return false;
        }

        using var free = Open(System.IO.Path.Combine(folder, LockFileName), FileMode.Open);
        return free is null;
    }

    /// <summary>
    /// The session lock, or null when a live process holds it (or, for <see cref="FileMode.Open"/>,
    /// it does not exist: not a session folder). On Unix .NET takes an advisory <c>flock</c> for
    /// <see cref="FileShare.None"/>, which the kernel releases when its holder dies.
    /// </summary>
    private static FileStream? Open(string lockPath, FileMode mode)
    {
        try
        {
            var options = new FileStreamOptions { Mode = mode, Access = FileAccess.ReadWrite, Share = FileShare.None };
            if (mode != FileMode.Open && !OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = PrivateDirectory.OwnerReadWrite;
            }

            return new FileStream(lockPath, options);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
