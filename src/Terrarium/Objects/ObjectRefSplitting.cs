using Terrarium.Objects;

namespace Terrarium;

/// <summary>
/// One ref per element of a result that is a tuple or a list (what Ray's <c>num_returns</c> gives):
/// <c>var (min, max) = cluster.Submit(() =&gt; Stats.MinMax(data)).Split();</c>. Each part is an
/// <see cref="ObjectRef{T}"/> of its own: awaited alone, or passed to tasks and actor calls alone.
/// The parts are made in this process from the whole once it is ready (a large whole is fetched here
/// once); a part passed to work on a node goes there as any value of this process does. A failure of
/// the whole is each part's failure; cancelling a part cancels the whole's task.
/// </summary>
public static class ObjectRefSplitting
{
    /// <summary>A ref per element of a pair.</summary>
    public static (ObjectRef<T1>, ObjectRef<T2>) Split<T1, T2>(this ObjectRef<(T1, T2)> whole)
    {
        var parts = Parts(whole, 2);
        return (new(parts[0]), new(parts[1]));
    }

    /// <summary>A ref per element of a triple.</summary>
    public static (ObjectRef<T1>, ObjectRef<T2>, ObjectRef<T3>) Split<T1, T2, T3>(this ObjectRef<(T1, T2, T3)> whole)
    {
        var parts = Parts(whole, 3);
        return (new(parts[0]), new(parts[1]), new(parts[2]));
    }

    /// <summary>A ref per element of a 4-tuple.</summary>
    public static (ObjectRef<T1>, ObjectRef<T2>, ObjectRef<T3>, ObjectRef<T4>) Split<T1, T2, T3, T4>(this ObjectRef<(T1, T2, T3, T4)> whole)
    {
        var parts = Parts(whole, 4);
        return (new(parts[0]), new(parts[1]), new(parts[2]), new(parts[3]));
    }

    /// <summary>
    /// A ref per element of an array of <paramref name="count"/> elements (Ray's <c>num_returns=count</c>);
    /// when it has another length, every part fails saying so.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is below 1.</exception>
    /// <exception cref="ArgumentException">A <c>byte[]</c>, which travels as one binary value, not as a list.</exception>
    public static ObjectRef<T>[] Split<T>(this ObjectRef<T[]> whole, int count) => typeof(T) == typeof(byte)
        ? throw new ArgumentException("a byte[] travels as one binary value, not as a list of bytes: it cannot be split", nameof(whole))
        : [.. Parts(whole, count).Select(p => new ObjectRef<T>(p))];

    /// <summary>As <see cref="Split{T}(ObjectRef{T[]}, int)"/>, for a list.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is below 1.</exception>
    public static ObjectRef<T>[] Split<T>(this ObjectRef<List<T>> whole, int count) => [.. Parts(whole, count).Select(p => new ObjectRef<T>(p))];

    private static ObjectHandle[] Parts(ObjectRef whole, int count)
    {
        ArgumentNullException.ThrowIfNull(whole);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        return ObjectParts.Of(whole.Handle, count);
    }
}
