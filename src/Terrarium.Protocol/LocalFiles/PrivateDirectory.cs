using Mono.Unix;
using Mono.Unix.Native;

namespace Terrarium.Protocol.LocalFiles;

/// <summary>
/// Folders only this user may enter: where sockets, session folders, logs and shipped code live.
/// Another local user who could create or swap such a folder would receive the cluster token from
/// the next process that connects, so every folder is created <c>0700</c> and an existing one is
/// used only if this user owns it, it is a real folder (not a symlink) and nobody else may write
/// to it; one that others may only read (an older Terrarium's cache) is made <c>0700</c>.
/// </summary>
public static class PrivateDirectory
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Read and write for the owner only: the mode of sockets and files in these folders.</summary>
    public const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// This user's runtime folder for Terrarium: <c>$XDG_RUNTIME_DIR/terrarium</c> when the session
    /// has one, else <c>$TMPDIR/terrarium-&lt;uid&gt;</c> (short, because Unix socket paths are
    /// limited to about 100 bytes). Created if missing.
    /// </summary>
    /// <exception cref="UnauthorizedAccessException">The folder exists but is not this user's private folder.</exception>
    public static string ForRuntime()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        var parent = xdg is { Length: > 0 } && Path.IsPathRooted(xdg) && Directory.Exists(xdg) && IsPrivate(xdg, out _)
            ? Path.Combine(xdg, "terrarium")
            : Path.Combine(Path.GetTempPath(), $"terrarium-{CurrentUserId}");
        return Create(parent);
    }

    /// <summary>The effective user id of this process.</summary>
    public static uint CurrentUserId => OperatingSystem.IsWindows() ? 0 : Syscall.geteuid();

    /// <summary>Creates <paramref name="path"/> (and missing parents, <c>0700</c>) or checks that the existing folder is private.</summary>
    /// <param name="path">The folder.</param>
    /// <param name="risk">What another user could do with the folder, for the refusal; default: intercept the token.</param>
    /// <returns>The full path.</returns>
    /// <exception cref="UnauthorizedAccessException">The folder exists but is not this user's private folder.</exception>
    public static string Create(string path, string? risk = null)
    {
        path = Path.GetFullPath(path);
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return path;
        }

        if (!Directory.Exists(path) && !File.Exists(path))
        {
            var parent = Path.GetDirectoryName(path);
            if (parent is not null && !Directory.Exists(parent))
            {
                Directory.CreateDirectory(parent, OwnerOnly);
            }

            try
            {
                Directory.CreateDirectory(path, OwnerOnly);
            }
            catch (IOException)
            {
                // Someone created it between the check and now: the check below decides.
            }
        }

        if (!IsPrivate(path, out var problem) && !TryTighten(path))
        {
            throw new UnauthorizedAccessException(
                $"refusing to use '{path}': {problem}. " +
                (risk ?? "Another user could intercept the cluster's token there; remove it (or point TMPDIR / XDG_RUNTIME_DIR elsewhere) and start again."));
        }

        return path;
    }

    /// <summary>Takes away others' read access from a folder of this user's that nobody else could write to.</summary>
    private static bool TryTighten(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return true;
        }

        var entry = UnixFileSystemInfo.GetFileSystemEntry(path);
        var othersWrite = FileAccessPermissions.GroupWrite | FileAccessPermissions.OtherWrite;
        if (entry.IsSymbolicLink || !entry.IsDirectory || entry.OwnerUserId != CurrentUserId || (entry.FileAccessPermissions & othersWrite) != 0)
        {
            return false;
        }

        File.SetUnixFileMode(path, OwnerOnly);
        return IsPrivate(path, out _);
    }

    /// <summary>Whether <paramref name="path"/> is a real folder owned by this user that nobody else may enter.</summary>
    /// <param name="path">The folder to check.</param>
    /// <param name="problem">What is wrong with it, when it is not.</param>
    public static bool IsPrivate(string path, out string problem)
    {
        problem = "";
        if (OperatingSystem.IsWindows())
        {
            return true;
        }

        UnixFileSystemInfo entry;
        try
        {
            entry = UnixFileSystemInfo.GetFileSystemEntry(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            problem = $"it cannot be examined ({e.Message})";
            return false;
        }

        if (entry.IsSymbolicLink || !entry.IsDirectory)
        {
            problem = entry.IsSymbolicLink ? "it is a symbolic link" : "it is not a folder";
            return false;
        }

        if (entry.OwnerUserId != CurrentUserId)
        {
            problem = $"it is owned by uid {entry.OwnerUserId}, not by this user (uid {CurrentUserId})";
            return false;
        }

        var others = entry.FileAccessPermissions & (FileAccessPermissions.GroupReadWriteExecute | FileAccessPermissions.OtherReadWriteExecute);
        if (others != 0)
        {
            problem = $"other users have access to it (mode {Convert.ToString((int)entry.FileAccessPermissions & 0x1FF, 8)}, expected 700)";
            return false;
        }

        return true;
    }
}
