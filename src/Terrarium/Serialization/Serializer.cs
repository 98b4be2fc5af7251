using Google.Protobuf;
using MessagePack;
using Terrarium.Protocol.Transport;

namespace Terrarium.Serialization;

/// <summary>
/// MessagePack for arguments and results: contractless, hardened for untrusted data, and typed by
/// the called method's signature on both ends, so no type named by the wire is ever instantiated.
/// </summary>
internal static class Serializer
{
    public static readonly MessagePackSerializerOptions Options = MessagePackSerializerOptions.Standard
        .WithResolver(DepthLimitedResolver.Instance)
        .WithSecurity(MessagePackSecurity.UntrustedData);

    /// <param name="type">The declared type the value is serialized as.</param>
    /// <param name="value">The value.</param>
    /// <param name="what">What the value is, for errors.</param>
    /// <param name="maxBytes">The largest the serialized value may be: <see cref="MessageLimits.MaxValueBytes"/> unless it goes into a shared-memory store.</param>
    /// <exception cref="ArgumentException">The value cannot be serialized, or is over <paramref name="maxBytes"/>; names <paramref name="what"/> and the type.</exception>
    public static ByteString Serialize(Type type, object? value, string what, int maxBytes = MessageLimits.MaxValueBytes)
    {
        byte[] bytes;
        try
        {
            bytes = MessagePackSerializer.Serialize(type, value, Options);
        }
        catch (Exception e) when (e is MessagePackSerializationException or TypeInitializationException or InvalidOperationException or NotSupportedException)
        {
            throw new ArgumentException($"{what} of type {Describe(type)} cannot be serialized with MessagePack: {Innermost(e).Message}", e);
        }
        catch (Exception e) when (e is OverflowException or OutOfMemoryException)
        {
            // Past 2 GiB no array can hold the bytes.
            throw TooLarge(what, type, null, e);
        }

        return bytes.Length > maxBytes ? throw TooLarge(what, type, bytes.Length, null, maxBytes) : UnsafeByteOperations.UnsafeWrap(bytes);
    }

    /// <summary>The error for a value (or a call's arguments together) over <paramref name="maxBytes"/>.</summary>
    public static ArgumentException TooLarge(string what, Type? type, long? bytes, Exception? inner, int maxBytes = MessageLimits.MaxValueBytes) => new(
        $"{what}{(type is null ? "" : $" of type {Describe(type)}")} is {(bytes is { } n ? $"{n >> 20} MiB" : "too large")} serialized, over the " +
        $"{maxBytes >> 20} MiB a value may be{(maxBytes == MessageLimits.MaxValueBytes ? "" : " in a node's shared-memory store")}; ship large data as files (working_dir) or split it into several values", inner);

    public static object? Deserialize(Type type, ReadOnlyMemory<byte> bytes) =>
        type == typeof(ReadOnlyMemory<byte>) && TryBinary(bytes, out var binary) ? binary : MessagePackSerializer.Deserialize(type, bytes, Options);

    public static T Deserialize<T>(ReadOnlyMemory<byte> bytes, MessagePackSerializerOptions? options = null) =>
        typeof(T) == typeof(ReadOnlyMemory<byte>) && TryBinary(bytes, out var binary)
            ? (T)(object)binary
            : MessagePackSerializer.Deserialize<T>(bytes, options ?? Options);

    /// <summary>
    /// A <see cref="ReadOnlyMemory{T}"/> of bytes binds to the serialized value itself, without a
    /// copy: for a large value mapped from a shared-memory store, to the mapping. True when
    /// <paramref name="bytes"/> is exactly one MessagePack bin.
    /// </summary>
    private static bool TryBinary(ReadOnlyMemory<byte> bytes, out ReadOnlyMemory<byte> binary)
    {
        var span = bytes.Span;
        (int header, long length) = span.Length == 0 ? (0, -1L) : span[0] switch
        {
            0xc4 when span.Length >= 2 => (2, span[1]),
            0xc5 when span.Length >= 3 => (3, System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(span[1..])),
            0xc6 when span.Length >= 5 => (5, (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(span[1..])),
            _ => (0, -1L),
        };
        binary = length >= 0 && header + length == bytes.Length ? bytes[header..] : default;
        return length >= 0 && header + length == bytes.Length;
    }

    /// <summary>Options that bind the actor handles they read to <paramref name="cluster"/>.</summary>
    public static MessagePackSerializerOptions BoundTo(Cluster cluster) => new ClusterBoundOptions(Options, cluster);

    public static string Describe(Type type) => type.IsGenericType
        ? $"{type.Name[..type.Name.IndexOf('`', StringComparison.Ordinal)]}<{string.Join(", ", type.GetGenericArguments().Select(Describe))}>"
        : type.FullName ?? type.Name;

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null)
        {
            e = e.InnerException;
        }

        return e;
    }
}

/// <summary>Serializer options that know the cluster a value is read for.</summary>
internal sealed class ClusterBoundOptions : MessagePackSerializerOptions
{
    public ClusterBoundOptions(MessagePackSerializerOptions copyFrom, Cluster cluster)
        : base(copyFrom) => Cluster = cluster;

    public Cluster Cluster { get; }

    protected override MessagePackSerializerOptions Clone() => new ClusterBoundOptions(this, Cluster);
}
