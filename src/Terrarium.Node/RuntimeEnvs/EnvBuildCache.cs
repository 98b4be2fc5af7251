using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Terrarium.Node.Service;
using Terrarium.Node.Sessions;
using Terrarium.Protocol;
using Terrarium.Protocol.RuntimeEnvs;

namespace Terrarium.Node.RuntimeEnvs;

/// <summary>
/// The runtime environments built on this node, one build per env hash: concurrent requests wait for
/// the same build; a failed build is remembered for <see cref="NodeOptions.FailedSetupRetryDelay"/>
/// so that a broken env is not rebuilt in a tight loop. What each field means is its
/// <see cref="IFieldPreparer"/>'s business; whatever a preparer throws — a full disk, a tool that
/// prints what it should not — fails the env as a <see cref="RuntimeEnvSetupFailure"/> naming the
/// field, never strands the work that waits for it. Each build writes a <see cref="SetupLog"/>, whose
/// steps the sessions waiting for it hear as they happen.
/// </summary>
internal sealed class EnvBuildCache(NodeOptions options, IEnumerable<IFieldPreparer> fields, ILogger<EnvBuildCache> logger)
{
    private readonly Dictionary<string, IFieldPreparer> _fields = fields.ToDictionary(f => f.Name, StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Build> _builds = new(StringComparer.Ordinal);
    private readonly Lock _starting = new();
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lastUsed = new(StringComparer.Ordinal);

    // Builds running now, and the gate a collection of the cache holds while it deletes: a build
    // starts only outside one, and a collection runs only while no build does (a build may reuse,
    // unseen, what the collection would delete).
    private int _running;
    private readonly SemaphoreSlim _collecting = new(1, 1);

    /// <summary>Raised after each build of an env ends, well or not, once its result is there.</summary>
    public event Action? Built;

    /// <summary>Where each env's setup log is kept, one file per env hash.</summary>
    public string LogFolder { get; } = Path.Combine(options.CacheDirectory, "setup-logs");

    /// <summary>
    /// The env, built once per hash. <paramref name="waiting"/>, the session whose work waits for it,
    /// hears the build's steps while it runs (once, however much of its work waits).
    /// </summary>
    public async Task<PreparedEnv> PrepareAsync(string hash, string canonicalJson, Session? waiting, CancellationToken ct)
    {
        if (hash.Length == 0)
        {
            return PreparedEnv.None;
        }

        while (true)
        {
            // Not while a collection deletes: what it deletes, it forgets first, so that this builds anew.
            await _collecting.WaitAsync(ct).ConfigureAwait(false);
            _collecting.Release();
            var build = BuildOf(hash, canonicalJson);
            if (waiting is not null && !build.Result.IsCompleted)
            {
                build.Log.Watch(waiting, step => waiting.Send(new SessionEvent { EnvSetup = step }));
            }

            try
            {
                var env = await build.Result.WaitAsync(ct).ConfigureAwait(false);
                _lastUsed[hash] = options.TimeProvider.GetUtcNow();
                return env;
            }
            catch (RuntimeEnvSetupFailure) when (options.TimeProvider.GetUtcNow() - build.FinishedAt > options.FailedSetupRetryDelay)
            {
                if (_builds.TryRemove(new KeyValuePair<string, Build>(hash, build)))
                {
                    build.Log.Dispose();
                    NodeLog.RetryingFailedEnv(logger, hash);
                }
            }
        }
    }

    /// <summary>The log of the env's latest build on this node since it started, if any.</summary>
    public SetupLog? LogOf(string hash) => _builds.TryGetValue(hash, out var build) ? build.Log : null;

    /// <summary>The envs built and ready on this node, and when work last needed each.</summary>
    public IEnumerable<(PreparedEnv Env, DateTimeOffset LastUsed)> Ready() =>
        _builds.Values.Where(b => b.Result.IsCompletedSuccessfully)
            .Select(b => (b.Result.Result, _lastUsed.GetValueOrDefault(b.Result.Result.Hash, b.FinishedAt)));

    /// <summary>When work last needed the env on this node, if it has.</summary>
    public DateTimeOffset? LastUsed(string hash) => _lastUsed.TryGetValue(hash, out var at) ? at : null;

    /// <summary>Forgets built envs (whose cache folders went): the next work that needs one builds it again.</summary>
    public void Forget(IEnumerable<string> hashes)
    {
        foreach (var hash in hashes)
        {
            if (_builds.TryGetValue(hash, out var build) && build.Result.IsCompleted && _builds.TryRemove(new KeyValuePair<string, Build>(hash, build)))
            {
                build.Log.Dispose();
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="collect"/> while no env builds, keeping new builds from starting until it
    /// returns; null, without running it, when a build is running.
    /// </summary>
    public async Task<T?> WhileNoBuildRunsAsync<T>(Func<Task<T>> collect, CancellationToken ct)
        where T : class
    {
        await _collecting.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return Volatile.Read(ref _running) > 0 ? null : await collect().ConfigureAwait(false);
        }
        finally
        {
            _collecting.Release();
        }
    }

    /// <summary>The envs this node has built or is building, for status.</summary>
    public IEnumerable<(string Hash, string State, string Json)> List() =>
        _builds.Select(kv => (kv.Key,
            kv.Value.Result.IsCompletedSuccessfully ? "ready" : kv.Value.Result.IsFaulted ? "failed" : "building",
            kv.Value.Result.IsCompletedSuccessfully ? kv.Value.Result.Result.CanonicalJson : ""));

    private Build BuildOf(string hash, string canonicalJson)
    {
        if (_builds.TryGetValue(hash, out var build))
        {
            return build;
        }

        // Under a lock, so that one build (and one log) starts per hash.
        lock (_starting)
        {
            return _builds.GetOrAdd(hash, h =>
            {
                var log = new SetupLog(LogFolder, options.NodeId, h, options.TimeProvider);
                // Counted as building until its result is there: a collection then sees the env as built, with the folders it uses.
                Interlocked.Increment(ref _running);
                var started = new Build(log, Task.Run(() => BuildWithTimeoutAsync(h, canonicalJson, log), CancellationToken.None), options.TimeProvider);
                _ = started.Result.ContinueWith(_ =>
                {
                    Interlocked.Decrement(ref _running);
                    Built?.Invoke();
                }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
                return started;
            });
        }
    }

    private async Task<PreparedEnv> BuildWithTimeoutAsync(string hash, string canonicalJson, SetupLog log)
    {
        // Not while a collection deletes: wait for it to end.
        await _collecting.WaitAsync().ConfigureAwait(false);
        _collecting.Release();
        return await BuildLoggedAsync(hash, canonicalJson, log).ConfigureAwait(false);
    }

    private async Task<PreparedEnv> BuildLoggedAsync(string hash, string canonicalJson, SetupLog log)
    {
        log.MakeCurrent();
        RuntimeEnv env;
        try
        {
            env = Read(canonicalJson);
        }
        catch (RuntimeEnvSetupFailure e)
        {
            throw Failed(hash, e, log);
        }

        if (env.EnvVars is { } envVars)
        {
            log.ToolEnvironment = new Dictionary<string, string>(envVars);
        }

        var timeout = (env.Config ?? new RuntimeEnvConfig()).SetupTimeout;
        using var cts = new CancellationTokenSource(timeout, options.TimeProvider);
        try
        {
            var prepared = await BuildAsync(hash, canonicalJson, env, log, cts.Token).ConfigureAwait(false);
            log.Ready();
            return prepared;
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            var field = log.CurrentField;
            var what = field.Length == 0 ? "the setup" : $"setting up '{field}'";
            throw Failed(hash, new RuntimeEnvSetupFailure(field.Length == 0 ? "config" : field,
                $"{what} took longer than the env's setup_timeout_seconds ({timeout.TotalSeconds:0}), so the setup was stopped; " +
                "raise runtime_env.config.setup_timeout_seconds (-1 for no limit) if it needs longer", ""), log);
        }
        catch (RuntimeEnvSetupFailure e)
        {
            throw Failed(hash, e, log);
        }
        catch (Exception e)
        {
            // Whatever else ends the build also ends its log, so that no follower waits for ever.
            throw Failed(hash, Unexpected("runtime_env", e), log);
        }
    }

    /// <summary>Prepares each field the env sets — those that decide how workers start first, the rest by name — and combines what they give the worker.</summary>
    private async Task<PreparedEnv> BuildAsync(string hash, string canonicalJson, RuntimeEnv env, SetupLog log, CancellationToken ct)
    {
        NodeLog.BuildingEnv(logger, hash);
        var setups = new List<FieldSetup>();
        // What the other fields build for depends on how the workers start.
        foreach (var field in _fields.Values.Where(f => f.IsSetIn(env)).OrderBy(f => f.SetsLauncher ? 0 : 1).ThenBy(f => f.Name, StringComparer.Ordinal))
        {
            var launcher = setups.Select(s => s.Launcher).LastOrDefault(l => l is not null);
            log.StepStarted(field.Name);
            try
            {
                setups.Add(await field.PrepareAsync(env, launcher, ct).ConfigureAwait(false));
                log.StepFinished(field.Name);
            }
            catch (Exception e) when (e is not RuntimeEnvSetupFailure && !(e is OperationCanceledException && ct.IsCancellationRequested))
            {
                throw Unexpected(field.Name, e);
            }
        }

        var envVars = new Dictionary<string, string>(StringComparer.Ordinal);
        // The user's env_vars win over what fields set (PYTHONPATH, VIRTUAL_ENV, ...).
        foreach (var (name, value) in setups.SelectMany(s => s.EnvVars).Concat(setups.SelectMany(s => s.WinningEnvVars)))
        {
            envVars[name] = value;
        }

        var workingDirectories = setups.Where(s => s.WorkingDirectory is not null).ToList();
        var launchers = setups.Where(s => s.Launcher is not null).ToList();
        if (workingDirectories.Count > 1 || launchers.Count > 1)
        {
            throw new RuntimeEnvSetupFailure("runtime_env", "more than one field sets the worker's directory or how it starts", canonicalJson);
        }

        return new PreparedEnv
        {
            Hash = hash,
            CanonicalJson = canonicalJson,
            EnvVars = envVars,
            PathEntries = setups.SelectMany(s => s.PathEntries).ToList(),
            // Modules come before the working dir, whatever order the fields were prepared in.
            AssemblyDirectories = setups.OrderBy(s => s.WorkingDirectory is null ? 0 : 1).SelectMany(s => s.AssemblyDirectories).ToList(),
            PreloadedAssemblies = Combined(setups.Select(s => s.PreloadedAssemblies), "assembly", canonicalJson),
            NativeLibraries = Combined(setups.Select(s => s.NativeLibraries), "native library", canonicalJson),
            ResolvedNuGetPackages = setups.SelectMany(s => s.ResolvedNuGetPackages).ToList(),
            ReadFolders = setups.SelectMany(s => s.ReadFolders).Distinct(StringComparer.Ordinal).ToList(),
            CachedFolders = setups.SelectMany(s => s.CachedFolders).ToList(),
            WorkingDirectory = workingDirectories.FirstOrDefault()?.WorkingDirectory,
            Launcher = launchers.FirstOrDefault()?.Launcher,
        };
    }

    /// <summary>Files by name from every field; two fields that give one name two files are a mistake, not a silent choice.</summary>
    private static Dictionary<string, string> Combined(IEnumerable<IReadOnlyDictionary<string, string>> fromFields, string what, string canonicalJson)
    {
        var combined = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, file) in fromFields.SelectMany(f => f))
        {
            if (combined.TryGetValue(name, out var other) && other != file)
            {
                throw new RuntimeEnvSetupFailure("runtime_env", $"two fields give the {what} '{name}' different files: {other} and {file}", canonicalJson);
            }

            combined[name] = file;
        }

        return combined;
    }

    /// <summary>What a preparer did not expect, as a setup failure: the field, what happened (a full disk says so), and the trace in the log.</summary>
    private static RuntimeEnvSetupFailure Unexpected(string field, Exception e)
    {
        var inner = e is PackageFetchException { InnerException: { } cause } ? cause : e;
        var what = inner is IOException io && (io.HResult & 0xFFFF) == 28 || inner.Message.Contains("No space left on device", StringComparison.Ordinal)
            ? "the node's disk is full (no space left on device)"
            : $"{inner.GetType().Name}: {inner.Message}";
        return new RuntimeEnvSetupFailure(field, $"setting up '{field}' failed: {what}", e.ToString());
    }

    /// <summary>The failure as the work that waited sees it: with the whole setup log, and what the failure adds to it.</summary>
    private RuntimeEnvSetupFailure Failed(string hash, RuntimeEnvSetupFailure failure, SetupLog log)
    {
        NodeLog.EnvSetupFailed(logger, hash, failure.Field, failure.Message);
        return new RuntimeEnvSetupFailure(failure.Field, failure.Message, log.Failed(failure.Field, failure.Message, failure.Log));
    }

    /// <summary>
    /// The env as the shared model reads and validates it, so that every preparer gets its field's
    /// value typed and checked; a field this node has no preparer for is refused by name before
    /// anything is read.
    /// </summary>
    private RuntimeEnv Read(string canonicalJson)
    {
        try
        {
            using var document = JsonDocument.Parse(canonicalJson, new JsonDocumentOptions { AllowDuplicateProperties = false });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new RuntimeEnvSetupFailure("runtime_env", "the runtime env is not a JSON object", canonicalJson);
            }

            if (document.RootElement.EnumerateObject().Select(p => p.Name).FirstOrDefault(name => !_fields.ContainsKey(name)) is { } unsupported)
            {
                throw new RuntimeEnvSetupFailure(unsupported, $"runtime_env field '{unsupported}' is not supported by node {options.NodeId}", "");
            }

            // Checked as the driver checked it: the node does not take a client's word for it.
            var env = RuntimeEnvReader.Read(document.RootElement);
            RuntimeEnvValidator.Validate(env, "runtime_env");
            return env;
        }
        catch (JsonException e)
        {
            throw new RuntimeEnvSetupFailure("runtime_env", $"the runtime env is not valid JSON: {e.Message}", canonicalJson);
        }
        catch (ArgumentException e)
        {
            // The message names the field and value; the parameter it would add means nothing here.
            var message = e.ParamName is { } name ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message;
            throw new RuntimeEnvSetupFailure("runtime_env", message, canonicalJson);
        }
    }

    private sealed class Build
    {
        public Build(SetupLog log, Task<PreparedEnv> running, TimeProvider clock)
        {
            Log = log;
            Result = StampAsync(running, clock);
        }

        public SetupLog Log { get; }

        public Task<PreparedEnv> Result { get; }

        public DateTimeOffset FinishedAt { get; private set; } = DateTimeOffset.MaxValue;

        /// <summary>Notes when the build ended before its result completes, so that whoever sees a failure sees when it happened.</summary>
        private async Task<PreparedEnv> StampAsync(Task<PreparedEnv> running, TimeProvider clock)
        {
            try
            {
                return await running.ConfigureAwait(false);
            }
            finally
            {
                FinishedAt = clock.GetUtcNow();
            }
        }
    }
}
