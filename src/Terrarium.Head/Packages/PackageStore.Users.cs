using Terrarium.Protocol;

namespace Terrarium.Head.Packages;

/// <summary>
/// Who uses the store's packages, and collection. A package is used by each running job that
/// uploaded it or asked whether the store has it, and still by such a job once it ended while its
/// detached actors live (their work elsewhere needs the job's code and envs); it is kept while one
/// does, and for
/// <see cref="HeadOptions.PackageProtection"/> after its last use (an upload, a question, a
/// download), so that a job that uploads first and submits later finds it. Past
/// <see cref="HeadOptions.PackageStoreLimit"/>, the other packages are deleted, least recently used
/// first. The last use is the archive's modification time, so a restarted head still knows it; the
/// jobs' uses are in the head's state store.
/// </summary>
internal sealed partial class PackageStore
{
    // Guards the users, and the archives' presence: an archive is not deleted while it is being
    // found, stored or opened.
    private readonly Lock _lock = new();

    // Per package, the jobs that use it.
    private readonly Dictionary<string, HashSet<string>> _users = new(StringComparer.Ordinal);

    /// <summary>
    /// Takes back the uses a previous head stored. Those of jobs that ended go with the next
    /// <see cref="ReleaseEndedJobsAsync"/> that finds no node holding their detached actors.
    /// </summary>
    public void Restore(IEnumerable<(string JobId, string Hash)> stored)
    {
        lock (_lock)
        {
            foreach (var (jobId, hash) in stored)
            {
                UsersOf(hash).Add(jobId);
            }
        }
    }

    /// <summary>
    /// The uses of the jobs that ended and whose detached actors are gone end: what only they used
    /// becomes unused (and is kept for the protection window from its last use). Their uses leave
    /// the state store too.
    /// </summary>
    public async Task ReleaseEndedJobsAsync()
    {
        var released = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        lock (_lock)
        {
            var over = _users.Values.SelectMany(u => u).Distinct(StringComparer.Ordinal).Where(j => !jobs.NeedsPackagesOf(j)).ToHashSet(StringComparer.Ordinal);
            foreach (var (hash, users) in _users.Where(u => u.Value.Overlaps(over)).ToList())
            {
                foreach (var jobId in users.Where(over.Contains).ToList())
                {
                    users.Remove(jobId);
                    released.TryAdd(jobId, []);
                    released[jobId].Add(hash);
                }

                if (users.Count == 0)
                {
                    _users.Remove(hash);
                }
            }
        }

        foreach (var (jobId, hashes) in released)
        {
            await store.RemoveJobPackagesAsync(jobId, hashes).ConfigureAwait(false);
        }
    }

    public ListPackagesReply List()
    {
        var reply = new ListPackagesReply { Limit = options.PackageStoreLimit };
        lock (_lock)
        {
            reply.Packages.AddRange(Archives().Select(Describe));
        }

        return reply;
    }

    /// <summary>
    /// Deletes every package no job uses and none used within the protection window (or,
    /// with <paramref name="dryRun"/>, only says which it would): what a user asks for with
    /// <c>terrarium env gc</c>.
    /// </summary>
    public List<PackageInfo> CollectUnused(bool dryRun)
    {
        lock (_lock)
        {
            return Collect(Archives(), keepBytes: null, dryRun);
        }
    }

    /// <summary>After an upload: deletes unused packages, least recently used first, until the store is within its limit.</summary>
    private void CollectOverLimit()
    {
        lock (_lock)
        {
            var archives = Archives();
            if (archives.Sum(a => a.Length) > options.PackageStoreLimit)
            {
                Collect(archives, options.PackageStoreLimit, dryRun: false);
            }
        }
    }

    /// <summary>Under the lock: deletes the collectable archives, oldest use first, until the rest fit in <paramref name="keepBytes"/> (all of them when null).</summary>
    private List<PackageInfo> Collect(List<FileInfo> archives, long? keepBytes, bool dryRun)
    {
        var total = archives.Sum(a => a.Length);
        var removed = new List<PackageInfo>();
        foreach (var archive in archives.Where(IsCollectable).OrderBy(a => a.LastWriteTimeUtc))
        {
            if (keepBytes is { } keep && total <= keep)
            {
                break;
            }

            var info = Describe(archive);
            if (!dryRun)
            {
                try
                {
                    archive.Delete();
                }
                catch (IOException)
                {
                    // Open on a platform that does not delete open files: the next collection takes it.
                    continue;
                }

                _uploads.TryRemove(info.Hash, out _);
            }

            total -= info.Size;
            removed.Add(info);
        }

        return removed;
    }

    private bool IsCollectable(FileInfo archive) => !_users.ContainsKey(HashOf(archive)) && !IsProtected(archive);

    private bool IsProtected(FileInfo archive) => options.TimeProvider.GetUtcNow() - archive.LastWriteTimeUtc < options.PackageProtection;

    private PackageInfo Describe(FileInfo archive)
    {
        var hash = HashOf(archive);
        var info = new PackageInfo
        {
            Hash = hash,
            Size = archive.Length,
            Uploads = _uploads.GetValueOrDefault(hash),
            LastUsedUnixMs = new DateTimeOffset(archive.LastWriteTimeUtc).ToUnixTimeMilliseconds(),
            Protected = IsProtected(archive),
        };
        if (_users.TryGetValue(hash, out var users))
        {
            info.Jobs.AddRange(users.Order(StringComparer.Ordinal));
        }

        return info;
    }

    /// <summary>
    /// Under the lock, for a present archive: it is used now, and by <paramref name="jobId"/> if that
    /// job runs (or its detached actors live). True when the job did not use it before (the caller
    /// tells the state store).
    /// </summary>
    private bool MarkUsed(string hash, string jobId)
    {
        File.SetLastWriteTimeUtc(PathOf(hash), options.TimeProvider.GetUtcNow().UtcDateTime);
        return jobId.Length > 0 && jobs.NeedsPackagesOf(jobId) && UsersOf(hash).Add(jobId);
    }

    private Task SaveUseAsync(string hash, string jobId, bool newUse) =>
        newUse ? store.SaveJobPackageAsync(jobId, hash) : Task.CompletedTask;

    private HashSet<string> UsersOf(string hash)
    {
        if (!_users.TryGetValue(hash, out var users))
        {
            _users[hash] = users = new HashSet<string>(StringComparer.Ordinal);
        }

        return users;
    }

    private List<FileInfo> Archives() =>
        System.IO.Directory.Exists(Directory)
            ? new DirectoryInfo(Directory).EnumerateFiles("*.zip").ToList()
            : [];

    private static string HashOf(FileInfo archive) => Path.GetFileNameWithoutExtension(archive.Name);
}
