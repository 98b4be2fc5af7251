using Mono.Unix;

namespace Terrarium.Protocol.LocalFiles;

/// <summary>
/// Whether what is at a path is this process's to trust — code it will run, a key it will use: no
/// one but root and this user could have put it there or swapped it. Every folder from the path up
/// to <c>/</c> must belong to one of them and be closed to others' writes (a sticky folder such as
/// <c>/tmp</c> is fine: others cannot rename or remove what they do not own in it), and so must the
/// file itself.
/// </summary>
public static class TrustedPath
{
    /// <summary>
    /// The problem with <paramref name="path"/>, or null when it is trusted: both the folders it is
    /// named through and, when links are on the way, the folders it really is in.
    /// </summary>
    public static string? Problem(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        var full = Path.GetFullPath(path);
        if (!File.Exists(full) && !Directory.Exists(full))
        {
            return $"'{full}' does not exist";
        }

        string real;
        try
        {
            real = RealPath(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
        {
            return $"'{full}' cannot be resolved ({e.Message})";
        }

        return ChainProblem(full) ?? (real == full ? null : ChainProblem(real));
    }

    /// <summary>The path with every link on the way resolved, as <c>realpath(3)</c> gives it.</summary>
    /// <exception cref="IOException">Links loop.</exception>
    public static string RealPath(string path)
    {
        var resolved = "/";
        var pending = new Stack<string>(Path.GetFullPath(path).Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse());
        var links = 0;
        while (pending.TryPop(out var part))
        {
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                resolved = Path.GetDirectoryName(resolved) ?? "/";
                continue;
            }

            var next = Path.Combine(resolved, part);
            if (new FileInfo(next).LinkTarget is { } target)
            {
                if (++links > 40)
                {
                    throw new IOException($"'{path}' has too many levels of symbolic links");
                }

                foreach (var targetPart in target.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse())
                {
                    pending.Push(targetPart);
                }

                resolved = target.StartsWith('/') ? "/" : resolved;
                continue;
            }

            resolved = next;
        }

        return resolved;
    }

    /// <summary>The first of <paramref name="path"/> and the folders above it that someone else could change.</summary>
    private static string? ChainProblem(string path)
    {
        for (var current = path; current is not null; current = Path.GetDirectoryName(current))
        {
            UnixFileSystemInfo entry;
            try
            {
                entry = UnixFileSystemInfo.GetFileSystemEntry(current);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
            {
                return $"'{current}' cannot be examined ({e.Message})";
            }

            var owner = entry.OwnerUserId;
            if (owner != 0 && owner != PrivateDirectory.CurrentUserId)
            {
                return $"'{current}' belongs to uid {owner}, neither root nor this node's user";
            }

            var othersWrite = entry.FileAccessPermissions & (FileAccessPermissions.GroupWrite | FileAccessPermissions.OtherWrite);
            var sticky = (entry.FileSpecialAttributes & FileSpecialAttributes.Sticky) != 0 && entry.IsDirectory;
            if (othersWrite != 0 && !sticky && !entry.IsSymbolicLink)
            {
                return $"other users may write to '{current}' (mode {Convert.ToString((int)entry.FileAccessPermissions & 0x1FF, 8)})";
            }
        }

        return null;
    }
}
