using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Terrarium.Node.Internal;

/// <summary>
/// Materialises runtime environments on this node, once per env hash: concurrent requests wait for
/// the same build; a failed build is remembered for <see cref="NodeOptions.FailedSetupRetryDelay"/>
/// so that a broken env is not rebuilt in a tight loop.
/// </summary>
internal sealed class RuntimeEnvAgent(NodeOptions options, ILogger<RuntimeEnvAgent> logger)
{
    private readonly ConcurrentDictionary<string, Build> _builds = new(StringComparer.Ordinal);

    public async Task<PreparedEnv> PrepareAsync(string hash, string canonicalJson, CancellationToken ct)
    {
        if (hash.Length == 0)
        {
            return PreparedEnv.None;
        }

        while (true)
        {
            var build = _builds.GetOrAdd(hash, h => new Build(Task.Run(() => BuildAsync(h, canonicalJson, ct), CancellationToken.None), options.TimeProvider));
            try
            {
                return await build.Result.ConfigureAwait(false);
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

    private Task<PreparedEnv> BuildAsync(string hash, string canonicalJson, CancellationToken ct)
    {
        _ = ct;
        NodeLog.BuildingEnv(logger, hash);
        using var document = ParseOrFail(canonicalJson);
        var envVars = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var field in document.RootElement.EnumerateObject())
        {
            switch (field.Name)
            {
                case "env_vars":
                    foreach (var variable in field.Value.EnumerateObject())
                    {
                        envVars[variable.Name] = variable.Value.GetString() ?? "";
                    }

                    break;
                default:
                    throw new RuntimeEnvSetupFailure(field.Name,
                        $"runtime_env field '{field.Name}' is not supported by node {options.NodeId}", "");
            }
        }

        return Task.FromResult(new PreparedEnv { Hash = hash, CanonicalJson = canonicalJson, EnvVars = envVars });
    }

    private static JsonDocument ParseOrFail(string json)
    {
        try
        {
            var document = JsonDocument.Parse(json);
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
        public Build(Task<PreparedEnv> result, TimeProvider clock)
        {
            Result = result;
            _ = result.ContinueWith(_ => FinishedAt = clock.GetUtcNow(), TaskScheduler.Default);
        }

        public Task<PreparedEnv> Result { get; }

        public DateTimeOffset FinishedAt { get; private set; } = DateTimeOffset.MaxValue;
    }
}
