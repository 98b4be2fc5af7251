namespace Terrarium;

/// <summary>How one task runs.</summary>
public sealed class TaskOptions
{
    /// <summary>The task's runtime env, merged over the job's (or the submitting worker's). Default: none.</summary>
    public RuntimeEnv? RuntimeEnv { get; init; }

    /// <summary>CPUs the task holds while it runs. Default: 1.</summary>
    public double NumCpus { get; init; } = 1;

    /// <summary>Custom resources the task holds while it runs. Default: none.</summary>
    public IDictionary<string, double> Resources { get; init; } = new Dictionary<string, double>();

    /// <summary>How the node is picked (Ray's <c>scheduling_strategy</c>). Default: <see cref="SchedulingStrategy.Default"/>.</summary>
    public SchedulingStrategy SchedulingStrategy { get; init; } = SchedulingStrategy.Default;

    /// <summary>How often the task is rerun after its worker crashed (and after exceptions with <see cref="RetryExceptions"/>). Default: 3.</summary>
    public int MaxRetries { get; init; } = 3;

    /// <summary>Retry application exceptions too, not only worker crashes. Default: false.</summary>
    public bool RetryExceptions { get; init; }

    /// <summary>
    /// The longest the task may run, counted from when its worker is ready for it (a new worker's own
    /// start does not count): past it the task is
    /// cancelled with force (its worker is killed and replaced) and its ref throws
    /// <see cref="TaskCancelledException"/> with <see cref="TaskCancelledException.TimedOut"/> set.
    /// A timeout is retried only with <see cref="RetryExceptions"/>, within <see cref="MaxRetries"/>.
    /// Checked several times a second. Default: null, no limit.
    /// </summary>
    public TimeSpan? Timeout { get; init; }

    internal void Validate()
    {
        if (NumCpus < 0 || double.IsNaN(NumCpus))
        {
            throw new ArgumentOutOfRangeException(nameof(NumCpus), NumCpus, $"{nameof(NumCpus)} must be zero or more");
        }

        if (MaxRetries < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxRetries), MaxRetries, $"{nameof(MaxRetries)} must be zero or more");
        }

        if (Timeout is { } timeout && (timeout <= TimeSpan.Zero || timeout.TotalMilliseconds > long.MaxValue / 2))
        {
            throw new ArgumentOutOfRangeException(nameof(Timeout), timeout, $"{nameof(Timeout)} must be positive (leave it null for no limit)");
        }

        ArgumentNullException.ThrowIfNull(SchedulingStrategy, nameof(SchedulingStrategy));
        Placement.ResourceValidation.Validate(Resources.AsReadOnly(), nameof(Resources));
    }
}
