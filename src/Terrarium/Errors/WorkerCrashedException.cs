namespace Terrarium;

/// <summary>The worker process running a task died (after the retries the task's options allow).</summary>
public sealed class WorkerCrashedException(string message, int exitCode) : TerrariumException(message)
{
    /// <summary>The worker process's exit code.</summary>
    public int ExitCode { get; } = exitCode;
}
