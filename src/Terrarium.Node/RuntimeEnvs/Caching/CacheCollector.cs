using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Terrarium.Node.RuntimeEnvs.Container;
using Terrarium.Node.Service;

namespace Terrarium.Node.RuntimeEnvs.Caching;

/// <summary>
/// Keeps the node's env cache within its limits. A cached resource is in use while an env that uses
/// it has users — workers, tasks waiting on this node, actors — and unused otherwise; unused ones
/// stay until their kind is over its limit (<see cref="NodeOptions.CacheLimits"/>), then go least
/// recently used first. Nothing is deleted while an env builds (a build may reuse, unseen, what
/// would go). When each resource was last used, and its size, are kept in the cache folder, so a
/// restarted node finds them again. A cache folder that another running node shares is not
/// collected at all: this node cannot know what that node's work uses.
/// </summary>
internal sealed class CacheCollector : IDisposable
{
    private const string IndexFile = "cache-index.json";

    private readonly NodeOptions _options;
    private readonly EnvBuildCache _builds;
    private readonly IEnvUsers _users;
    private readonly PulledImages _images;
    private readonly ILogger<CacheCollector> _logger;
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<string, long> _sizes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lastUsed = new(StringComparer.Ordinal);
    private readonly ITimer _timer;
    private readonly FileStream? _nodeLock;
    private int _collecting;

    public CacheCollector(NodeOptions options, EnvBuildCache builds, IEnvUsers users, PulledImages images, ILogger<CacheCollector> logger)
    {
        _options = options;
        _builds = builds;
        _users = users;
        _images = images;
        _logger = logger;
        LoadIndex();
        _nodeLock = LockAsThisNode();
        _builds.Built += CollectSoon;
        _timer = options.TimeProvider.CreateTimer(_ => CollectSoon(), null, options.CacheCollectInterval, options.CacheCollectInterval);
    }

    private string Cache => _options.CacheDirectory;

    /// <summary>
    /// Deletes unused resources: those past their kind's limit, oldest first, or with
    /// <paramref name="everythingUnused"/> all of them; with <paramref name="dryRun"/> only says which.
    /// </summary>
    public async Task<CacheReport> CollectAsync(bool everythingUnused, bool dryRun, CancellationToken ct)
    {
        if (OtherLiveNode() is { } other)
        {
            return new CacheReport([], $"its cache folder {Cache} is shared with node {other}, which runs, and whose work this node cannot see; give each node a cache folder of its own (--cache-dir)");
        }

        return await _builds.WhileNoBuildRunsAsync(async () =>
            {
                var (report, images) = Collect(everythingUnused, dryRun);
                // Still while no env builds: none can find an image present that is about to go.
                foreach (var image in images)
                {
                    await _images.RemoveAsync(image).ConfigureAwait(false);
                }

                return report;
            }, ct).ConfigureAwait(false)
            ?? new CacheReport([], "an env is being built on the node, and it may reuse what would go; try again once it is ready");
    }

    /// <summary>Each resource in the cache now: its size, users, and when it was last used.</summary>
    public List<ResourceState> Survey(bool measure = false)
    {
        // Users first, then what envs use: work that moves on meanwhile is seen where it was.
        var usersOfEnv = _users.Users().GroupBy(u => u.EnvHash).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var foldersInUse = _users.FoldersInUse().Select(f => CachedResource.Of(Cache, f)?.Name).OfType<string>().ToList();
        var ready = _builds.Ready().ToList();
        var now = _options.TimeProvider.GetUtcNow();
        var envsOfResource = ready
            .SelectMany(e => CachedResource.UsedBy(e.Env, Cache).Select(r => (Resource: r.Name, e.Env.Hash, e.LastUsed)))
            .GroupBy(x => x.Resource)
            .ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var states = new List<ResourceState>();
        foreach (var resource in CachedResource.OnDisk(Cache))
        {
            var envs = envsOfResource.GetValueOrDefault(resource.Name) ?? [];
            var lastUsed = envs.Select(e => e.LastUsed).Append(_lastUsed.GetValueOrDefault(resource.Name, DateTimeOffset.MinValue)).Max();
            if (lastUsed == DateTimeOffset.MinValue)
            {
                lastUsed = Directory.GetLastWriteTimeUtc(resource.Path);
            }

            var users = envs.Select(e => e.Hash).Distinct().Sum(h => usersOfEnv.GetValueOrDefault(h)) + foldersInUse.Count(f => f == resource.Name);
            // What is in use now is used now: a long-lived actor's folders are not the oldest once it ends.
            states.Add(new ResourceState(resource, SizeOf(resource, measure), users > 0 ? now : lastUsed, envs.Select(e => e.Hash).Distinct().ToList(), users));
        }

        return states;
    }

    public void Dispose()
    {
        _builds.Built -= CollectSoon;
        _timer.Dispose();
        // The uses since the last collection, for the node that starts next on this cache — unless
        // another running node shares it, whose index this is as much (collections leave it be too).
        try
        {
            if (OtherLiveNode() is null)
            {
                lock (_gate)
                {
                    SaveIndex(Survey());
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            NodeLog.CacheIndexNotSaved(_logger, e.Message);
        }

        _nodeLock?.Dispose();
    }

    private void CollectSoon()
    {
        if (Interlocked.Exchange(ref _collecting, 1) != 0)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                await CollectAsync(everythingUnused: false, dryRun: false, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                NodeLog.CacheCollectionFailed(_logger, e);
            }
            finally
            {
                Interlocked.Exchange(ref _collecting, 0);
            }
        });
    }

    /// <returns>What went, and the images whose records went with it (to remove).</returns>
    private (CacheReport Report, List<string> Images) Collect(bool everythingUnused, bool dryRun)
    {
        lock (_gate)
        {
            SweepHalfDeleted();
            var states = Survey(measure: true);
            var removed = new List<ResourceState>();
            var images = new List<string>();
            foreach (var kind in CachedResource.Kinds)
            {
                var total = states.Where(s => s.Resource.Kind == kind).Sum(s => s.Size);
                var limit = CacheLimits.Of(_options.CacheLimits, kind);
                foreach (var unused in states.Where(s => s.Resource.Kind == kind && s.Users == 0).OrderBy(s => s.LastUsed))
                {
                    if (!everythingUnused && total <= limit)
                    {
                        break;
                    }

                    if (!dryRun)
                    {
                        // Forgotten first: work that comes once the collection is over builds the env again.
                        _builds.Forget(unused.Envs);
                    }

                    var image = unused.Resource.Kind == "container" ? PulledImages.Read(unused.Resource.Path)?.Image : null;
                    if (dryRun || Delete(unused.Resource))
                    {
                        if (image is not null && !dryRun)
                        {
                            images.Add(image);
                        }

                        removed.Add(unused);
                        total -= unused.Size;
                    }
                }
            }

            if (!dryRun)
            {
                Forget(removed);
                SaveIndex(states.Except(removed));
            }

            return (new CacheReport(removed, null), images);
        }
    }

    private bool Delete(CachedResource resource)
    {
        var doomed = $"{resource.Path}.{Guid.NewGuid():N}.deleting";
        try
        {
            // A venv or conda env is built under its lock, which a build that outlived its env's setup may still hold.
            using var building = CacheFolder.TryLock(resource.Path + ".lock");
            if (building is null)
            {
                return false;
            }

            // Renamed first, so that no half-deleted folder is ever taken for a whole one.
            Directory.Move(resource.Path, doomed);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            NodeLog.CachedResourceNotRemoved(_logger, resource.Name, e.Message);
            return false;
        }

        NodeLog.CachedResourceRemoved(_logger, resource.Name);
        DeleteQuietly(doomed);
        return true;
    }

    /// <summary>What a deletion cut short left (the node stopped, a file would not go): gone now, or next time.</summary>
    private void SweepHalfDeleted()
    {
        foreach (var parent in CachedResource.FlatParents.Select(k => Path.Combine(Cache, k))
            .Concat(Directory.Exists(Path.Combine(Cache, "nuget", "packages")) ? Directory.EnumerateDirectories(Path.Combine(Cache, "nuget", "packages")) : [])
            .Where(Directory.Exists))
        {
            foreach (var leftover in Directory.EnumerateDirectories(parent, "*.deleting"))
            {
                DeleteQuietly(leftover);
            }
        }
    }

    private void DeleteQuietly(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            NodeLog.CachedResourceNotRemoved(_logger, Path.GetRelativePath(Cache, folder), e.Message);
        }
    }

    /// <summary>What remembers removed resources forgets them: envs built on them, and NuGet restores that resolved to them.</summary>
    private void Forget(List<ResourceState> removed)
    {
        foreach (var resource in removed.Select(r => r.Resource))
        {
            _sizes.TryRemove(resource.Name, out _);
            _lastUsed.TryRemove(resource.Name, out _);
        }

        var packages = removed.Where(r => r.Resource.Kind == "nuget").Select(r => r.Resource.Path + "/").ToList();
        var restores = Path.Combine(Cache, "nuget", "envs");
        if (packages.Count == 0 || !Directory.Exists(restores))
        {
            return;
        }

        foreach (var restore in Directory.EnumerateDirectories(restores))
        {
            var resolved = Path.Combine(restore, "resolved.json");
            try
            {
                if (File.Exists(resolved) && packages.Any(File.ReadAllText(resolved).Contains))
                {
                    Directory.Delete(restore, recursive: true);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                NodeLog.CachedResourceNotRemoved(_logger, Path.GetRelativePath(Cache, restore), e.Message);
            }
        }
    }

    private long SizeOf(CachedResource resource, bool measure)
    {
        if (_sizes.TryGetValue(resource.Name, out var size))
        {
            return size;
        }

        if (resource.Kind == "container")
        {
            // The record is a few bytes; the image it stands for is what counts.
            return PulledImages.Read(resource.Path)?.Size ?? 0;
        }

        try
        {
            size = new DirectoryInfo(resource.Path).EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
                .Sum(f => f.Length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }

        // Measured only while no env builds: a folder being built is still growing.
        if (measure)
        {
            _sizes[resource.Name] = size;
        }

        return size;
    }

    /// <summary>This node's lock in the cache folder, held while it runs: other nodes sharing the folder see it there.</summary>
    private FileStream? LockAsThisNode()
    {
        try
        {
            var folder = Directory.CreateDirectory(Path.Combine(Cache, "nodes")).FullName;
            return new FileStream(Path.Combine(folder, _options.NodeId + ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            NodeLog.CacheIndexNotSaved(_logger, e.Message);
            return null;
        }
    }

    /// <summary>Another node that runs and uses this cache folder (its lock is held), if any; the locks of nodes gone are removed.</summary>
    private string? OtherLiveNode()
    {
        var folder = Path.Combine(Cache, "nodes");
        if (!Directory.Exists(folder))
        {
            return null;
        }

        foreach (var file in Directory.EnumerateFiles(folder, "*.lock").Where(f => Path.GetFileNameWithoutExtension(f) != _options.NodeId))
        {
            using var held = CacheFolder.TryLock(file);
            if (held is null)
            {
                return Path.GetFileNameWithoutExtension(file);
            }

            File.Delete(file);
        }

        return null;
    }

    private void LoadIndex()
    {
        try
        {
            var index = JsonSerializer.Deserialize<Dictionary<string, IndexEntry>>(File.ReadAllText(Path.Combine(Cache, IndexFile)));
            foreach (var (name, entry) in index ?? [])
            {
                if (entry.Size is { } size)
                {
                    _sizes[name] = size;
                }

                _lastUsed[name] = entry.LastUsed;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            // No index (a new cache) or one that cannot be read: sizes are measured again, and folders' times stand for last use.
        }
    }

    private void SaveIndex(IEnumerable<ResourceState> states)
    {
        // Sizes only as a collection measured them: a folder still being built is still growing.
        var index = states.ToDictionary(s => s.Resource.Name, s => new IndexEntry(_sizes.TryGetValue(s.Resource.Name, out var size) ? size : null, s.LastUsed),
            StringComparer.Ordinal);
        foreach (var (name, entry) in index)
        {
            _lastUsed[name] = entry.LastUsed;
        }

        try
        {
            var file = Path.Combine(Cache, IndexFile);
            File.WriteAllText(file + ".new", JsonSerializer.Serialize(index));
            File.Move(file + ".new", file, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            NodeLog.CacheIndexNotSaved(_logger, e.Message);
        }
    }

    private sealed record IndexEntry(long? Size, DateTimeOffset LastUsed);
}

/// <summary>What a collection removed (or, dry, would remove); or why it did not run.</summary>
internal sealed record CacheReport(IReadOnlyList<ResourceState> Removed, string? Skipped);

/// <summary>A cached resource as the collector sees it: its size, the envs that use it, how many users those have, and when it was last used.</summary>
internal sealed record ResourceState(CachedResource Resource, long Size, DateTimeOffset LastUsed, IReadOnlyList<string> Envs, int Users);
