using System.Text.Json;

namespace Terrarium.Node.Internal.RuntimeEnvs;

/// <summary><c>config</c>: how the setup runs, not what the worker gets; <see cref="RuntimeEnvAgent"/> reads its timeout.</summary>
internal sealed class ConfigPreparer : IFieldPreparer
{
    public const string SetupTimeoutSeconds = "setup_timeout_seconds";

    public string Name => "config";

    public Task<FieldSetup> PrepareAsync(JsonElement value, IWorkerLauncher? launcher, CancellationToken ct) => Task.FromResult(FieldSetup.Nothing);

    /// <summary>The env's setup timeout: 600 s unless set; -1 is none, as in Ray.</summary>
    public static TimeSpan SetupTimeout(JsonElement root)
    {
        if (root.TryGetProperty("config", out var config) && config.ValueKind == JsonValueKind.Object &&
            config.TryGetProperty(SetupTimeoutSeconds, out var seconds) && seconds.TryGetInt32(out var value))
        {
            return value > 0 ? TimeSpan.FromSeconds(value) : value == -1 ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(600);
        }

        return TimeSpan.FromSeconds(600);
    }
}
