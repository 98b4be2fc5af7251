namespace Terrarium;

/// <summary>How one actor runs.</summary>
public sealed class ActorOptions
{
    /// <summary>The actor's runtime env, merged over the job's (or the creating worker's). Default: none.</summary>
    public RuntimeEnv? RuntimeEnv { get; init; }

    /// <summary>A cluster-wide name to find the actor by with <see cref="Cluster.GetActorAsync{T}"/>. Default: none.</summary>
    public string? Name { get; init; }

    /// <summary>How the node is picked (Ray's <c>scheduling_strategy</c>). Default: <see cref="SchedulingStrategy.Default"/>.</summary>
    public SchedulingStrategy SchedulingStrategy { get; init; } = SchedulingStrategy.Default;

    /// <summary>How often the actor is restarted (its constructor rerun) after its worker crashed. Default: 0.</summary>
    public int MaxRestarts { get; init; }

    /// <summary>
    /// How many calls of the actor run at once. Default: 1, one at a time, each caller's in the order
    /// it made them. Above 1, up to this many calls (of all callers) run together: a synchronous
    /// method's calls on thread-pool threads, a method returning <see cref="Task{TResult}"/>
    /// interleaved at its awaits (Ray's threaded and async actors). Each caller's calls are taken in
    /// the order made — none waits for a turn behind a later one — but they may start and finish in
    /// any order, and the actor's state is then the actor's to guard. With concurrency groups
    /// (<see cref="ConcurrencyGroupAttribute"/>), this is the size of the group <c>default</c>, of the
    /// methods that name no group.
    /// </summary>
    public int MaxConcurrency { get; init; } = 1;

    /// <summary>
    /// Whether the actor dies with its job (<see cref="ActorLifetime.Job"/>, the default) or lives on
    /// until it is killed (<see cref="ActorLifetime.Detached"/>, Ray's <c>lifetime="detached"</c>).
    /// </summary>
    public ActorLifetime Lifetime { get; init; } = ActorLifetime.Job;

    /// <summary>CPUs the actor holds for its lifetime. Default: 0, so that idle actors do not starve tasks.</summary>
    public double NumCpus { get; init; }

    /// <summary>Custom resources the actor holds for its lifetime. Default: none.</summary>
    public IDictionary<string, double> Resources { get; init; } = new Dictionary<string, double>();

    internal void Validate()
    {
        if (NumCpus < 0 || double.IsNaN(NumCpus))
        {
            throw new ArgumentOutOfRangeException(nameof(NumCpus), NumCpus, $"{nameof(NumCpus)} must be zero or more");
        }

        if (MaxRestarts < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxRestarts), MaxRestarts, $"{nameof(MaxRestarts)} must be zero or more");
        }

        if (MaxConcurrency < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxConcurrency), MaxConcurrency, $"{nameof(MaxConcurrency)} must be 1 or more (1 runs calls one at a time)");
        }

        if (!Enum.IsDefined(Lifetime))
        {
            throw new ArgumentOutOfRangeException(nameof(Lifetime), Lifetime, $"{nameof(Lifetime)} must be {nameof(ActorLifetime.Job)} or {nameof(ActorLifetime.Detached)}");
        }

        if (Name is not null && string.IsNullOrWhiteSpace(Name))
        {
            throw new ArgumentException($"{nameof(Name)} must not be blank; leave it null for an unnamed actor", nameof(Name));
        }

        ArgumentNullException.ThrowIfNull(SchedulingStrategy, nameof(SchedulingStrategy));
        Placement.ResourceValidation.Validate(Resources.AsReadOnly(), nameof(Resources));
    }
}
