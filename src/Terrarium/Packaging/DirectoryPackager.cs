using System.Collections.Concurrent;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Terrarium.Logging;
using Terrarium.Protocol.LocalFiles;

namespace Terrarium.Packaging;

/// <summary>
/// Packs a local directory (or one file) into a deterministic zip: entries sorted by path, fixed
/// timestamps, permissions kept, excluded files left out as if deleted. The same content gives the
/// same bytes and hash whatever the file order, timestamps or the path it was given by.
/// </summary>
internal sealed class DirectoryPackager(long maxPackageBytes, ILogger logger)
{
    public const long LargeFileBytes = 50L << 20;
    private static readonly DateTimeOffset s_epoch = new(1980, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly ConcurrentDictionary<string, (string Fingerprint, PackageFile Package)> _recent = new(StringComparer.Ordinal);

    /// <summary>Where packed zips wait for upload: in the user's private cache, since they hold the user's code.</summary>
    public static string CacheDirectory { get; } = System.IO.Path.Combine(ClusterOptions.DefaultCacheDirectory(), "uploads");

    /// <summary>Packs a directory, honouring <paramref name="excludes"/> and ignore files.</summary>
    /// <exception cref="ArgumentException">A symlink leaves the tree, a file is unreadable, or the package is too large.</exception>
    public PackageFile PackDirectory(string directory, IReadOnlyList<string> excludes, string field)
    {
        var root = System.IO.Path.GetFullPath(directory);
        RefuseSystemFolder(root, field);
        var files = new List<Entry>();
        Walk(root, root, "", IgnoreRules.ForRoot(excludes), files, field, new HashSet<string>(StringComparer.Ordinal));
        return Pack(files, $"{root}|{string.Join('\n', excludes)}", root, field);
    }

    /// <summary>Packs a single file (a module's .dll) at the root of the archive.</summary>
    public PackageFile PackFile(string file, string field)
    {
        var info = new FileInfo(file);
        return Pack([new Entry(info.Name, info.FullName, false, info.Length, info.LastWriteTimeUtc.Ticks)], info.FullName, info.FullName, field);
    }

    private static void Walk(string root, string directory, string relative, IgnoreRules rules, List<Entry> entries, string field, HashSet<string> visited)
    {
        var real = new DirectoryInfo(directory).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? directory;
        if (!visited.Add(real))
        {
            return;
        }

        rules = rules.Enter(directory, relative);
        var children = new DirectoryInfo(directory).EnumerateFileSystemInfos().OrderBy(c => c.Name, StringComparer.Ordinal).ToList();
        var before = entries.Count;
        // A directory that ends up empty (no children, or all excluded) is kept as an empty one.
        var placeholder = relative.Length > 0 ? before : -1;

        foreach (var child in children)
        {
            var path = relative.Length == 0 ? child.Name : relative + "/" + child.Name;
            var isDirectory = child is DirectoryInfo;
            if (rules.IsIgnored(path, isDirectory))
            {
                continue;
            }

            if (child.LinkTarget is not null)
            {
                var target = child.ResolveLinkTarget(returnFinalTarget: true)?.FullName;
                if (target is null || !IsInside(root, target))
                {
                    throw new ArgumentException(
                        $"{field} '{root}': symlink '{path}' points outside the directory (to {target ?? child.LinkTarget}); copy the file in or remove the link");
                }

                isDirectory = Directory.Exists(target);
            }

            if (isDirectory)
            {
                Walk(root, child.FullName, path, rules, entries, field, visited);
                continue;
            }

            RefuseSpecialFile(child.LinkTarget is null ? child.FullName : child.ResolveLinkTarget(returnFinalTarget: true)!.FullName, root, path, field);
            var file = new FileInfo(child.FullName);
            entries.Add(new Entry(path, file.FullName, false, file.Length, file.LastWriteTimeUtc.Ticks));
        }

        if (placeholder >= 0 && entries.Count == before)
        {
            entries.Add(new Entry(relative + "/", directory, true, 0, 0));
        }
    }

    /// <summary>The root, the kernel's pseudo file systems and the system's own folders are never shipped.</summary>
    private static void RefuseSystemFolder(string root, string field)
    {
        var trimmed = System.IO.Path.TrimEndingDirectorySeparator(root);
        if (trimmed == System.IO.Path.GetPathRoot(trimmed) ||
            s_pseudoFileSystems.Any(p => trimmed == p || trimmed.StartsWith(p + "/", StringComparison.Ordinal)) ||
            s_systemFolders.Contains(trimmed))
        {
            throw new ArgumentException(
                $"{field} '{root}' is the root or a system folder; ship the folder of your own code or data instead");
        }
    }

    private static readonly string[] s_pseudoFileSystems = ["/proc", "/sys", "/dev", "/run"];

    private static readonly HashSet<string> s_systemFolders =
        new(["/bin", "/boot", "/etc", "/lib", "/lib64", "/sbin", "/usr", "/var", "/tmp", "/home", "/root", "/opt", "/srv", "/mnt", "/media"], StringComparer.Ordinal);

    /// <summary>
    /// Only regular files are shipped: reading a named pipe blocks until someone writes to it, and a
    /// socket or device has no content to copy.
    /// </summary>
    private static void RefuseSpecialFile(string fullPath, string root, string path, string field)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var entry = Mono.Unix.UnixFileSystemInfo.GetFileSystemEntry(fullPath);
        if (!entry.IsRegularFile)
        {
            throw new ArgumentException(
                $"{field} '{root}': '{path}' is a {Describe(entry.FileType)}, not a regular file; only files and folders are shipped — " +
                "remove it or leave it out with excludes or a .terrariumignore");
        }
    }

    private static string Describe(Mono.Unix.FileTypes type) => type switch
    {
        Mono.Unix.FileTypes.Fifo => "named pipe (FIFO)",
        Mono.Unix.FileTypes.Socket => "socket",
        Mono.Unix.FileTypes.CharacterDevice => "character device",
        Mono.Unix.FileTypes.BlockDevice => "block device",
        _ => type.ToString(),
    };

    private PackageFile Pack(List<Entry> entries, string cacheKey, string source, string field)
    {
        var total = entries.Sum(e => e.Size);
        if (total > maxPackageBytes)
        {
            var largest = string.Join(", ", entries.OrderByDescending(e => e.Size).Take(5).Select(e => $"{e.Path} ({Mib(e.Size)})"));
            throw new ArgumentException(
                $"{field} '{source}' is {Mib(total)}, over the {Mib(maxPackageBytes)} package limit; largest files: {largest}. " +
                "Leave them out with excludes or a .terrariumignore, or raise ClusterOptions.MaxPackageBytes");
        }

        var fingerprint = Fingerprint(entries);
        if (_recent.TryGetValue(cacheKey, out var recent) && recent.Fingerprint == fingerprint && File.Exists(recent.Package.Path))
        {
            return recent.Package;
        }

        foreach (var large in entries.Where(e => e.Size > LargeFileBytes))
        {
            ClientLog.LargeFileInPackage(logger, field, source, large.Path, Mib(large.Size));
        }

        PrivateDirectory.Create(CacheDirectory);
        var temp = System.IO.Path.Combine(CacheDirectory, Guid.NewGuid().ToString("N") + ".part");
        try
        {
            WriteZip(temp, entries, source, field);
            string hash;
            using (var stream = File.OpenRead(temp))
            {
                hash = Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
            }

            var final = System.IO.Path.Combine(CacheDirectory, hash + ".zip");
            if (!File.Exists(final))
            {
                File.Move(temp, final, overwrite: true);
            }

            var package = new PackageFile(hash, final, new FileInfo(final).Length);
            _recent[cacheKey] = (fingerprint, package);
            return package;
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private static void WriteZip(string path, List<Entry> entries, string source, string field)
    {
        using var zip = new ZipArchive(File.Create(path), ZipArchiveMode.Create);
        foreach (var entry in entries)
        {
            var item = zip.CreateEntry(entry.Path, CompressionLevel.Fastest);
            item.LastWriteTime = s_epoch;
            if (entry.IsDirectory)
            {
                continue;
            }

            if (!OperatingSystem.IsWindows())
            {
                item.ExternalAttributes = ((int)File.GetUnixFileMode(entry.FullPath) | 0x8000) << 16;
            }

            try
            {
                using var input = File.OpenRead(entry.FullPath);
                using var output = item.Open();
                input.CopyTo(output);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ArgumentException($"{field} '{source}': cannot read '{entry.Path}': {e.Message}", e);
            }
        }
    }

    private static string Fingerprint(List<Entry> entries)
    {
        var text = new StringBuilder();
        foreach (var entry in entries)
        {
            text.Append(entry.Path).Append('|').Append(entry.Size).Append('|').Append(entry.ModifiedTicks).Append('\n');
        }

        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    private static bool IsInside(string root, string path) =>
        path == root || path.StartsWith(root.TrimEnd(System.IO.Path.DirectorySeparatorChar) + System.IO.Path.DirectorySeparatorChar, StringComparison.Ordinal);

    private static string Mib(long bytes) => $"{bytes / 1048576.0:0.#} MiB";

    private sealed record Entry(string Path, string FullPath, bool IsDirectory, long Size, long ModifiedTicks);
}
