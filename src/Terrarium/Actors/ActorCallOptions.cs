namespace Terrarium;

/// <summary>How one actor call runs (Ray's <c>actor.method.options(...)</c>).</summary>
public sealed class ActorCallOptions
{
    /// <summary>
    /// The concurrency group the call runs in, instead of its method's (see
    /// <see cref="ConcurrencyGroupAttribute"/>); <c>"default"</c> is the default group. Default: null,
    /// the method's own group.
    /// </summary>
    public string? ConcurrencyGroup { get; init; }

    internal void Validate()
    {
        if (ConcurrencyGroup is not null && string.IsNullOrWhiteSpace(ConcurrencyGroup))
        {
            throw new ArgumentException($"{nameof(ConcurrencyGroup)} must not be blank; leave it null for the method's own group", nameof(ConcurrencyGroup));
        }
    }
}
