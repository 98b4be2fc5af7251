namespace Terrarium;

/// <summary>Limits and timing of a runtime environment's setup (<c>config</c> in JSON).</summary>
public sealed record RuntimeEnvConfig
{
    /// <summary>How long the setup may take before it fails. Default: 600 seconds.</summary>
    public int SetupTimeoutSeconds { get; init; } = 600;

    /// <summary>Build the environment when the job starts rather than at first use. Default: true.</summary>
    public bool EagerInstall { get; init; } = true;
}
