using System.Collections.Concurrent;

namespace Terrarium.Node.RuntimeEnvs;

/// <summary>Builds that envs share (an image's check, a venv): one at a time per key, remembered once they succeed.</summary>
internal static class SharedBuilds
{
    /// <summary>
    /// The one task that makes <paramref name="key"/>'s value, shared by all who ask; one that fails
    /// is forgotten, so that the next env that needs it tries again.
    /// </summary>
    public static Task<T> Once<T>(ConcurrentDictionary<string, Lazy<Task<T>>> cache, string key, Func<Task<T>> make)
    {
        var entry = cache.GetOrAdd(key, _ => new Lazy<Task<T>>(() => Task.Run(make)));
        _ = entry.Value.ContinueWith(t => cache.TryRemove(new KeyValuePair<string, Lazy<Task<T>>>(key, entry)),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        return entry.Value;
    }
}
