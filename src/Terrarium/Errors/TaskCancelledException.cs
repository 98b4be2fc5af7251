namespace Terrarium;

/// <summary>
/// A task or actor call was cancelled: by <see cref="Cluster.CancelAsync"/>, or because it ran past
/// its <see cref="TaskOptions.Timeout"/>. An <see cref="OperationCanceledException"/>, so code that
/// handles cancellation in general handles it too.
/// </summary>
public sealed class TaskCancelledException : OperationCanceledException
{
    /// <summary>Creates the error.</summary>
    /// <param name="message">What was cancelled, and how.</param>
    /// <param name="function">The method that was called.</param>
    /// <param name="timedOut">Whether it ran past its timeout.</param>
    public TaskCancelledException(string message, string function, bool timedOut)
        : base(message)
    {
        Function = function;
        TimedOut = timedOut;
    }

    /// <summary>The method that was called (<c>Type.Method</c>).</summary>
    public string Function { get; }

    /// <summary>Whether the task ran past its timeout, rather than being cancelled by a caller.</summary>
    public bool TimedOut { get; }
}
