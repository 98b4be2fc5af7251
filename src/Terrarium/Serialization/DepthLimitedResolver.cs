using MessagePack;
using MessagePack.Formatters;
using Terrarium.Actors;

namespace Terrarium.Serialization;

/// <summary>
/// Bounds how deep a value may nest when it is serialized. MessagePack limits depth only when it
/// reads; when it writes, a value that refers to itself recurses until the stack overflows, which
/// ends the whole process (a driver with its embedded cluster, or a worker). The bound is the one
/// the reading side enforces, so whatever is written can be read.
/// </summary>
internal sealed class DepthLimitedResolver : IFormatterResolver
{
    public static readonly int MaxDepth = MessagePackSecurity.UntrustedData.MaximumObjectGraphDepth;

    [ThreadStatic]
    private static int t_depth;

    private DepthLimitedResolver()
    {
    }

    public static DepthLimitedResolver Instance { get; } = new();

    /// <summary>The resolver whose formatters do the work.</summary>
    private static IFormatterResolver Inner { get; } =
        MessagePack.Resolvers.CompositeResolver.Create(ActorHandleResolver.Instance, MessagePack.Resolvers.ContractlessStandardResolver.Instance);

    public IMessagePackFormatter<T>? GetFormatter<T>() => Cache<T>.Formatter;

    private static class Cache<T>
    {
        // Only reference types can form cycles or long chains; strings and byte arrays cannot
        // contain anything. Value types and those keep their formatters unwrapped (no cost).
        public static readonly IMessagePackFormatter<T>? Formatter =
            Inner.GetFormatter<T>() is { } formatter && !typeof(T).IsValueType && typeof(T) != typeof(string) && typeof(T) != typeof(byte[])
                ? new Bounded<T>(formatter)
                : Inner.GetFormatter<T>();
    }

    private sealed class Bounded<T>(IMessagePackFormatter<T> inner) : IMessagePackFormatter<T>
    {
        public void Serialize(ref MessagePackWriter writer, T value, MessagePackSerializerOptions options)
        {
            if (t_depth >= MaxDepth)
            {
                throw new MessagePackSerializationException(
                    $"the value nests deeper than {MaxDepth} levels (does it refer to itself?); values must be trees of at most that depth");
            }

            t_depth++;
            try
            {
                inner.Serialize(ref writer, value, options);
            }
            finally
            {
                t_depth--;
            }
        }

        public T Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options) => inner.Deserialize(ref reader, options);
    }
}
