namespace Terrarium;

/// <summary>
/// Concurrency groups of an actor (Ray's <c>concurrency_groups</c>). On the actor's class,
/// <c>[ConcurrencyGroup("io", 4)]</c> declares a group that runs up to 4 calls at once; on a method,
/// <c>[ConcurrencyGroup("io")]</c> puts the method's calls in that group. Each group has turns of its
/// own: calls of a full group wait without holding up the calls of other groups. Methods without the
/// attribute are in the default group, whose size is <see cref="ActorOptions.MaxConcurrency"/>.
/// A call can name another group with <see cref="ActorCallOptions.ConcurrencyGroup"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = true, Inherited = true)]
public sealed class ConcurrencyGroupAttribute : Attribute
{
    /// <summary>On a method: the group its calls run in, which the class declares.</summary>
    public ConcurrencyGroupAttribute(string name)
    {
        Name = name;
    }

    /// <summary>On the actor's class: declares a group running up to <paramref name="maxConcurrency"/> calls at once.</summary>
    public ConcurrencyGroupAttribute(string name, int maxConcurrency)
    {
        Name = name;
        MaxConcurrency = maxConcurrency;
    }

    /// <summary>The group's name.</summary>
    public string Name { get; }

    /// <summary>How many of the group's calls run at once; 0 on a method, which names a group the class declares.</summary>
    public int MaxConcurrency { get; }
}
