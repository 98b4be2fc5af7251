using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Terrarium.Node.Internal.RuntimeEnvs;

namespace Terrarium.Node.Internal;

/// <summary>
/// Materialises runtime environments on this node, once per env hash: concurrent requests wait for
/// the same build; a failed build is remembered for <see cref="NodeOptions.FailedSetupRetryDelay"/>
/// so that a broken env is not rebuilt in a tight loop. What each field means is its
/// <see cref="IFieldPreparer"/>'s business; whatever a preparer throws — a full disk, a tool that
/// prints what it should not — fails the env as a <see cref="RuntimeEnvSetupFailure"/> naming the
/// field, never strands the work that waits for it.
/// </summary>
internal sealed class RuntimeEnvAgent(NodeOptions options, IEnumerable<IFieldPreparer> fields, ILogger<RuntimeEnvAgent> logger)
{
    private readonly Dictionary<string, IFieldPreparer> _fields = fields.ToDictionary(f => f.Name, StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Build> _builds = new(StringComparer.Ordinal);

    public async Task<PreparedEnv> PrepareAsync(string hash, string canonicalJson, CancellationToken ct)
    {
        if (hash.Length == 0)
        {
            return PreparedEnv.None;
        }

        while (true)
        {
            var build = _builds.GetOrAdd(hash, h => new Build(Task.Run(() => BuildWithTimeoutAsync(h, canonicalJson), CancellationToken.None), options.TimeProvider));
            try
            {
                return await build.Result.WaitAsync(ct).ConfigureAwait(false);
            }
            catch (RuntimeEnvSetupFailure) when (options.TimeProvider.GetUtcNow() - build.FinishedAt > options.FailedSetupRetryDelay)
            {
                if (_builds.TryRemove(new KeyValuePair<string, Build>(hash, build)))
                {
                    NodeLog.RetryingFailedEnv(logger, hash);
                }
            }
        }
    }

    /// <summary>The envs this node has built or is building, for status.</summary>
    public IEnumerable<(string Hash, string State, string Json)> List() =>
        _builds.Select(kv => (kv.Key,
            kv.Value.Result.IsCompletedSuccessfully ? "ready" : kv.Value.Result.IsFaulted ? "failed" : "building",
            kv.Value.Result.IsCompletedSuccessfully ? kv.Value.Result.Result.CanonicalJson : ""));

    private async Task<PreparedEnv> BuildWithTimeoutAsync(string hash, string canonicalJson)
    {
        using var document = ParseOrFail(canonicalJson);
        var timeout = ConfigPreparer.SetupTimeout(document.RootElement);
        using var cts = new CancellationTokenSource(timeout, options.TimeProvider);
        try
        {
            return await BuildAsync(hash, canonicalJson, document.RootElement, cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw Failed(hash, new RuntimeEnvSetupFailure("config", $"the setup took longer than setup_timeout_seconds ({timeout.TotalSeconds:0})", ""));
        }
        catch (RuntimeEnvSetupFailure e)
        {
            throw Failed(hash, e);
        }
    }

    /// <summary>Prepares each field — those that decide how workers start first, the rest in the JSON's order — and combines what they give the worker.</summary>
    private async Task<PreparedEnv> BuildAsync(string hash, string canonicalJson, JsonElement root, CancellationToken ct)
    {
        NodeLog.BuildingEnv(logger, hash);
        var setups = new List<FieldSetup>();
        FieldSetup? userVariables = null;
        var fields = root.EnumerateObject()
            .Select(property => (property, field: _fields.GetValueOrDefault(property.Name)
                ?? throw new RuntimeEnvSetupFailure(property.Name, $"runtime_env field '{property.Name}' is not supported by node {options.NodeId}", "")))
            // What the other fields build for depends on how the workers start.
            .OrderBy(f => f.field.SetsLauncher ? 0 : 1)
            .ToList();
        foreach (var (property, field) in fields)
        {
            var launcher = setups.Select(s => s.Launcher).LastOrDefault(l => l is not null);
            FieldSetup setup;
            try
            {
                setup = await field.PrepareAsync(property.Value, launcher, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not RuntimeEnvSetupFailure && !(e is OperationCanceledException && ct.IsCancellationRequested))
            {
                throw Unexpected(field.Name, e);
            }

            setups.Add(setup);
            userVariables = field is EnvVarsPreparer ? setup : userVariables;
        }

        var envVars = new Dictionary<string, string>(StringComparer.Ordinal);
        // The user's env_vars win over what fields set (PYTHONPATH, VIRTUAL_ENV, ...).
        foreach (var (name, value) in setups.Where(s => !ReferenceEquals(s, userVariables)).Append(userVariables).OfType<FieldSetup>().SelectMany(s => s.EnvVars))
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
            WorkingDirectory = workingDirectories.FirstOrDefault()?.WorkingDirectory,
            NuGet = setups.Select(s => s.NuGet).LastOrDefault(n => n is not null),
            Launcher = launchers.FirstOrDefault()?.Launcher,
        };
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

    private RuntimeEnvSetupFailure Failed(string hash, RuntimeEnvSetupFailure failure)
    {
        NodeLog.EnvSetupFailed(logger, hash, failure.Field, failure.Message);
        return failure;
    }

    private static JsonDocument ParseOrFail(string json)
    {
        try
        {
            var document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowDuplicateProperties = false });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                document.Dispose();
                throw new RuntimeEnvSetupFailure("runtime_env", "the runtime env is not a JSON object", json);
            }

            return document;
        }
        catch (JsonException e)
        {
            throw new RuntimeEnvSetupFailure("runtime_env", $"the runtime env is not valid JSON: {e.Message}", json);
        }
    }

    private sealed class Build
    {
        public Build(Task<PreparedEnv> running, TimeProvider clock) => Result = StampAsync(running, clock);

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
