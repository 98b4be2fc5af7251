namespace Terrarium;

/// <summary>Limits and timing of a runtime environment's setup (<c>config</c> in JSON).</summary>
public sealed record RuntimeEnvConfig
{
    /// <summary>The value of <see cref="SetupTimeoutSeconds"/> that means "no timeout", as in Ray.</summary>
    public const int NoTimeout = -1;

    /// <summary>The setup timeout of an env that sets none, as in Ray.</summary>
    public const int DefaultSetupTimeoutSeconds = 600;

    /// <summary>
    /// How long the setup may take before it fails: a positive number of seconds, or
    /// <see cref="NoTimeout"/> (-1). Default: 600 seconds.
    /// </summary>
    public int SetupTimeoutSeconds { get; init; } = DefaultSetupTimeoutSeconds;

    /// <summary>
    /// Build the job's environment on every node when the job starts rather than at first use.
    /// Default: true. It is read from the job's env (<c>JobConfig.RuntimeEnv</c>) only; in a task's or an
    /// actor's env it has no effect.
    /// </summary>
    public bool EagerInstall { get; init; } = true;

    /// <summary><see cref="SetupTimeoutSeconds"/> as a timeout: <see cref="Timeout.InfiniteTimeSpan"/> for <see cref="NoTimeout"/>.</summary>
    internal TimeSpan SetupTimeout => SetupTimeoutSeconds == NoTimeout ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(SetupTimeoutSeconds);

    /// <exception cref="ArgumentException">The timeout is 0 or negative other than -1.</exception>
    internal static int CheckTimeout(int seconds, string path) => seconds > 0 || seconds == NoTimeout
        ? seconds
        : throw new ArgumentException($"{path} must be a positive number of seconds, or -1 for no timeout; got {seconds}");
}
