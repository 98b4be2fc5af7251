using System.Collections.Concurrent;

namespace Terrarium.Node.RuntimeEnvs;

/// <summary>
/// Builds that envs share (an image's check, a venv): one at a time per key, remembered once they
/// succeed. A shared build runs to its end even when the setup that waits for it times out: other
/// envs may wait for it too. Its tools' output goes to the setup log of the env that started it.
/// </summary>
internal static class SharedBuilds
{
    /// <summary>
    /// The one task that makes <paramref name="key"/>'s value, shared by all who ask; one that fails
    /// is forgotten, so that the next env that needs it tries again.
    /// </summary>
    /// <param name="cache">The builds made, by key.</param>
    /// <param name="key">What is built.</param>
    /// <param name="make">Builds it.</param>
    /// <param name="stillThere">Whether what a finished build made is still there (the cache's collector may have deleted it since): if not, it is built again.</param>
    public static Task<T> Once<T>(ConcurrentDictionary<string, Lazy<Task<T>>> cache, string key, Func<Task<T>> make, Func<T, bool>? stillThere = null)
    {
        var entry = cache.GetOrAdd(key, _ => new Lazy<Task<T>>(() => Task.Run(make)));
        if (stillThere is not null && entry.IsValueCreated && entry.Value.IsCompletedSuccessfully && !stillThere(entry.Value.Result))
        {
            cache.TryRemove(new KeyValuePair<string, Lazy<Task<T>>>(key, entry));
            entry = cache.GetOrAdd(key, _ => new Lazy<Task<T>>(() => Task.Run(make)));
        }

        if (entry.IsValueCreated && !entry.Value.IsCompleted)
        {
            SetupLog.Current?.Output($"waiting for a build that another env's setup started ({key}); its output is in that env's log");
        }

        _ = entry.Value.ContinueWith(t => cache.TryRemove(new KeyValuePair<string, Lazy<Task<T>>>(key, entry)),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        return entry.Value;
    }
}
