using System.Collections.Concurrent;

namespace Terrarium.Node.RuntimeEnvs;

/// <summary>
/// Builds that envs share (an image's check, a venv), by key: one at a time per key, remembered
/// once they succeed. A build runs while some env's setup waits for it; when the last one gives up
/// (its setup timed out) the build is cancelled, and its tools with it: nothing is left running
/// that no one waits for. A build longer than the setup timeout therefore never finishes; the
/// failure says to raise <c>setup_timeout_seconds</c>. Its tools' output goes to the setup log of
/// the env that started it.
/// </summary>
internal sealed class SharedBuilds<T>
{
    private readonly ConcurrentDictionary<string, Build> _builds = new(StringComparer.Ordinal);

    /// <summary>The keys of the builds made or under way.</summary>
    public IEnumerable<string> Keys => _builds.Keys;

    /// <summary>Forgets a build, so that the next one to ask makes it again.</summary>
    public void Forget(string key) => _builds.TryRemove(key, out _);

    /// <summary>
    /// <paramref name="key"/>'s value, made once by <paramref name="make"/> and shared by all who
    /// ask; a build that fails or is cancelled is forgotten, so that the next env that needs it
    /// tries again.
    /// </summary>
    /// <param name="key">What is built.</param>
    /// <param name="make">Builds it; its token fires when every setup waiting for it has given up.</param>
    /// <param name="ct">This setup's: when it fires, this setup stops waiting.</param>
    /// <param name="stillThere">Whether what a finished build made is still there (the cache's collector may have deleted it since): if not, it is built again.</param>
    public async Task<T> GetAsync(string key, Func<CancellationToken, Task<T>> make, CancellationToken ct, Func<T, bool>? stillThere = null)
    {
        ct.ThrowIfCancellationRequested();
        var (build, startedByAnother) = Join(key, make, stillThere);
        try
        {
            if (startedByAnother)
            {
                SetupLog.Current?.Output($"waiting for a build that another env's setup started ({key}); its output is in that env's log");
            }

            return await build.Value.WaitAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            build.Leave();
        }
    }

    /// <returns>The build, now waited for by one more; and whether another setup started it and it still runs.</returns>
    private (Build Build, bool StartedByAnother) Join(string key, Func<CancellationToken, Task<T>> make, Func<T, bool>? stillThere)
    {
        while (true)
        {
            var build = _builds.GetOrAdd(key, _ => new Build(make));
            var gone = stillThere is not null && build.IsStarted && build.Value.IsCompletedSuccessfully && !stillThere(build.Value.Result);
            if (!gone && build.TryJoin(out var startedByAnother))
            {
                _ = build.Value.ContinueWith(failed =>
                    {
                        // Observed: an abandoned build's failure reaches no one.
                        _ = failed.Exception;
                        _builds.TryRemove(KeyValuePair.Create(key, build));
                    },
                    CancellationToken.None, TaskContinuationOptions.NotOnRanToCompletion, TaskScheduler.Default);
                return (build, startedByAnother);
            }

            // Deleted since it was made, or abandoned by its last waiter: the next one builds anew.
            _builds.TryRemove(KeyValuePair.Create(key, build));
        }
    }

    /// <summary>One build and the setups waiting for it.</summary>
    private sealed class Build
    {
        private readonly Lock _gate = new();
        private readonly CancellationTokenSource _abandoned = new();
        private readonly Lazy<Task<T>> _task;
        private int _waiters;
        private bool _abandonedByAll;

        public Build(Func<CancellationToken, Task<T>> make) =>
            // Started by the first to join: GetOrAdd may make builds it then throws away.
            _task = new Lazy<Task<T>>(() => Task.Run(() => make(_abandoned.Token)));

        public bool IsStarted => _task.IsValueCreated;

        public Task<T> Value => _task.Value;

        /// <returns>False when the build was abandoned: it is cancelled, or being cancelled.</returns>
        public bool TryJoin(out bool startedByAnother)
        {
            lock (_gate)
            {
                startedByAnother = _waiters > 0 && !Value.IsCompleted;
                if (_abandonedByAll)
                {
                    return false;
                }

                _waiters++;
                _ = Value;
                return true;
            }
        }

        /// <summary>A setup stops waiting; the last one to leave an unfinished build cancels it.</summary>
        public void Leave()
        {
            bool abandon;
            lock (_gate)
            {
                abandon = _abandonedByAll = --_waiters == 0 && !Value.IsCompleted;
            }

            // Outside the lock: cancelling kills the build's tools, which takes a moment.
            if (abandon)
            {
                _abandoned.Cancel();
            }
        }
    }
}
