using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using NuGet.Frameworks;

namespace Terrarium.Node.Internal;

/// <summary>
/// Materialises runtime environments on this node, once per env hash: concurrent requests wait for
/// the same build; a failed build is remembered for <see cref="NodeOptions.FailedSetupRetryDelay"/>
/// so that a broken env is not rebuilt in a tight loop.
/// </summary>
internal sealed class RuntimeEnvAgent(NodeOptions options, PackageCache packages, NuGetRestorer restorer, ILogger<RuntimeEnvAgent> logger)
{
    private static readonly NuGetFramework s_runtime = NuGetFramework.Parse("net" + Environment.Version.ToString(2));
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
        var timeout = TimeSpan.FromSeconds(600);
        if (document.RootElement.TryGetProperty("config", out var config) &&
            config.TryGetProperty("setup_timeout_seconds", out var seconds) && seconds.TryGetInt32(out var value))
        {
            // -1 is "no timeout", as in Ray.
            timeout = value > 0 ? TimeSpan.FromSeconds(value) : value == -1 ? Timeout.InfiniteTimeSpan : timeout;
        }

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

    private async Task<PreparedEnv> BuildAsync(string hash, string canonicalJson, JsonElement root, CancellationToken ct)
    {
        NodeLog.BuildingEnv(logger, hash);
        var envVars = new Dictionary<string, string>(StringComparer.Ordinal);
        string? workingDir = null;
        NuGetEnvironment? nuget = null;
        var assemblyDirectories = new List<string>();
        foreach (var field in root.EnumerateObject())
        {
            switch (field.Name)
            {
                case "env_vars":
                    foreach (var variable in field.Value.EnumerateObject())
                    {
                        envVars[variable.Name] = variable.Value.GetString() ?? "";
                    }

                    break;
                case "working_dir":
                    workingDir = await FetchAsync("working_dir", field.Value.GetString()!, ct).ConfigureAwait(false);
                    break;
                case "modules":
                    foreach (var module in field.Value.EnumerateArray())
                    {
                        assemblyDirectories.Add(AssemblyDirectoryOf(await FetchAsync("modules", module.GetString()!, ct).ConfigureAwait(false)));
                    }

                    break;
                case "nuget":
                    nuget = await RestoreAsync(field.Value, ct).ConfigureAwait(false);
                    break;
                case "config":
                    break;
                default:
                    throw new RuntimeEnvSetupFailure(field.Name, $"runtime_env field '{field.Name}' is not supported by node {options.NodeId}", "");
            }
        }

        if (workingDir is not null)
        {
            assemblyDirectories.Add(workingDir);
        }

        return new PreparedEnv
        {
            Hash = hash,
            CanonicalJson = canonicalJson,
            EnvVars = envVars,
            WorkingDirectory = workingDir,
            AssemblyDirectories = assemblyDirectories,
            NuGet = nuget,
        };
    }

    /// <summary>Restores <c>nuget</c>: a list of packages, or <c>{packages, sources}</c> whose shipped sources are unpacked first.</summary>
    private async Task<NuGetEnvironment> RestoreAsync(JsonElement nuget, CancellationToken ct)
    {
        var list = nuget.ValueKind == JsonValueKind.Array ? nuget : nuget.GetProperty("packages");
        var packageSpecs = list.EnumerateArray().Select(p => p.GetString()!).ToList();
        var sources = new List<string>();
        if (nuget.ValueKind == JsonValueKind.Object && nuget.TryGetProperty("sources", out var declared))
        {
            foreach (var source in declared.EnumerateArray().Select(s => s.GetString()!))
            {
                var shipped = source.StartsWith("pkg://", StringComparison.Ordinal);
                var resolved = shipped ? await FetchAsync("nuget", source, ct).ConfigureAwait(false) : source;
                NuGetRestorer.CheckSource(resolved, shipped);
                sources.Add(resolved);
            }
        }

        return await restorer.RestoreAsync(packageSpecs, sources, ct).ConfigureAwait(false);
    }

    private async Task<string> FetchAsync(string field, string uri, CancellationToken ct)
    {
        try
        {
            return await packages.GetDirectoryAsync(uri, ct).ConfigureAwait(false);
        }
        catch (PackageFetchException e)
        {
            throw new RuntimeEnvSetupFailure(field, e.Message, e.ToString());
        }
    }

    /// <summary>A module's assemblies: a .nupkg's lib folder nearest this runtime, else the module's root.</summary>
    private static string AssemblyDirectoryOf(string unpacked)
    {
        var lib = Path.Combine(unpacked, "lib");
        if (Directory.GetFiles(unpacked, "*.nuspec").Length == 0 || !Directory.Exists(lib))
        {
            return unpacked;
        }

        var frameworks = Directory.GetDirectories(lib).ToDictionary(d => NuGetFramework.ParseFolder(Path.GetFileName(d)), d => d);
        var nearest = new FrameworkReducer().GetNearest(s_runtime, frameworks.Keys);
        return nearest is null ? unpacked : frameworks[nearest];
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
        public Build(Task<PreparedEnv> result, TimeProvider clock)
        {
            Result = result;
            _ = result.ContinueWith(_ => FinishedAt = clock.GetUtcNow(), TaskScheduler.Default);
        }

        public Task<PreparedEnv> Result { get; }

        public DateTimeOffset FinishedAt { get; private set; } = DateTimeOffset.MaxValue;
    }
}
