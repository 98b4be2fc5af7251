namespace Terrarium;

/// <summary>Limits and timing of a runtime environment's setup (<c>config</c> in JSON).</summary>
public sealed record RuntimeEnvConfig
{
    /// <summary>The value of <see cref="SetupTimeoutSeconds"/> that means "no timeout", as in Ray.</summary>
    public const int NoTimeout = -1;

    /// <summary>
    /// How long the setup may take before it fails: a positive number of seconds, or
    /// <see cref="NoTimeout"/> (-1). Default: 600 seconds.
    /// </summary>
    public int SetupTimeoutSeconds { get; init; } = 600;

    /// <summary>Build the environment when the job starts rather than at first use. Default: true.</summary>
    public bool EagerInstall { get; init; } = true;

    /// <exception cref="ArgumentException">The timeout is 0 or negative other than -1.</exception>
    internal static int CheckTimeout(int seconds, string path) => seconds > 0 || seconds == NoTimeout
        ? seconds
        : throw new ArgumentException($"{path} must be a positive number of seconds, or -1 for no timeout; got {seconds}");
}
