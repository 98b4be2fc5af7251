using Mono.Unix;

namespace Terrarium.Protocol.Hosting;

/// <summary>
/// Whether what is at a path is this process's to trust — code it will run, a key it will use: no
/// one but root and this user could have put it there or swapped it. Every folder from the path up
/// to <c>/</c> must belong to one of them and be closed to others' writes (a sticky folder such as
/// <c>/tmp</c> is fine: others cannot rename or remove what they do not own in it), and so must the
/// file itself.
/// </summary>
public static class TrustedPath
{
    /// <summary>The problem with <paramref name="path"/>, or null when it is trusted.</summary>
    public static string? Problem(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        for (var current = Path.GetFullPath(path); current is not null; current = Path.GetDirectoryName(current))
        {
            UnixFileSystemInfo entry;
            try
            {
                entry = UnixFileSystemInfo.GetFileSystemEntry(current);
                if (!entry.Exists)
                {
                    continue;
                }
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
