namespace Terrarium;

/// <summary>The runtime environment a task or actor needs could not be built on its node.</summary>
public sealed class RuntimeEnvSetupException(string message, string field, string setupLog) : TerrariumException(message)
{
    /// <summary>The runtime-env field whose setup failed (<c>nuget</c>, <c>working_dir</c>, ...).</summary>
    public string Field { get; } = field;

    /// <summary>The output of the setup, for diagnosis.</summary>
    public string SetupLog { get; } = setupLog;

    /// <inheritdoc />
    public override string ToString() => SetupLog.Length == 0
        ? base.ToString()
        : $"{base.ToString()}{Environment.NewLine}--- setup log ---{Environment.NewLine}{SetupLog}";
}
