using System.IO.Compression;

namespace Terrarium.Node.RuntimeEnvs;

/// <summary>
/// Unpacks archives from outside the node without trusting them: entries that would land outside
/// the target (zip-slip), symlink entries, and archives over the size or entry-count limit are refused.
/// </summary>
internal static class SafeZip
{
    private const int UnixFileTypeMask = 0xF000;
    private const int UnixSymlink = 0xA000;

    /// <exception cref="InvalidDataException">The archive is malformed or breaks a rule; the message says which.</exception>
    public static void Extract(string zipPath, string target, long maxBytes, int maxEntries)
    {
        var root = Path.GetFullPath(target) + Path.DirectorySeparatorChar;
        using var zip = ZipFile.OpenRead(zipPath);
        // The central directory says how many there are: refused before one is written.
        if (zip.Entries.Count > maxEntries)
        {
            throw new InvalidDataException($"archive holds {zip.Entries.Count} files and folders, more than the {maxEntries} a node unpacks; refused");
        }

        Directory.CreateDirectory(root);
        long total = 0;
        foreach (var entry in zip.Entries)
        {
            var destination = Path.GetFullPath(Path.Combine(root, entry.FullName));
            if (!destination.StartsWith(root, StringComparison.Ordinal) && destination + Path.DirectorySeparatorChar != root)
            {
                throw new InvalidDataException($"archive entry '{entry.FullName}' would be written outside the target directory; refused");
            }

            var mode = (entry.ExternalAttributes >> 16) & 0xFFFF;
            if ((mode & UnixFileTypeMask) == UnixSymlink)
            {
                throw new InvalidDataException($"archive entry '{entry.FullName}' is a symlink; refused");
            }

            total += entry.Length;
            if (total > maxBytes)
            {
                throw new InvalidDataException($"archive unpacks to more than {maxBytes} bytes; refused");
            }

            if (entry.FullName.EndsWith('/'))
            {
                Directory.CreateDirectory(destination);
                continue;
            }

            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            entry.ExtractToFile(destination, overwrite: false);
            if (!OperatingSystem.IsWindows() && (mode & 0x1FF) != 0)
            {
                File.SetUnixFileMode(destination, (UnixFileMode)(mode & 0x1FF) | UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }
    }
}
