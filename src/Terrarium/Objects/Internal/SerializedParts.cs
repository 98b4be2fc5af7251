using Google.Protobuf;
using MessagePack;

namespace Terrarium.Objects;

/// <summary>
/// The elements of a value serialized as a MessagePack array — a tuple, an array, a list — each as
/// a serialized value of its own, which reads as the element's type.
/// </summary>
internal static class SerializedParts
{
    /// <summary>The <paramref name="count"/> elements' values, or why the value does not have that many.</summary>
    public static (ByteString[]? Parts, string? Refused) Split(ReadOnlyMemory<byte> value, int count)
    {
        var reader = new MessagePackReader(value);
        if (reader.End || reader.NextMessagePackType != MessagePackType.Array)
        {
            return (null, reader.End || reader.NextMessagePackType == MessagePackType.Nil ? "returned null" : $"returned a {reader.NextMessagePackType}, not a tuple or list");
        }

        var length = reader.ReadArrayHeader();
        if (length != count)
        {
            return (null, $"returned {length} values where {count} were asked for");
        }

        var parts = new ByteString[count];
        for (var i = 0; i < count; i++)
        {
            var start = reader.Consumed;
            reader.Skip();
            parts[i] = ByteString.CopyFrom(value.Span[(int)start..(int)reader.Consumed]);
        }

        return (parts, null);
    }
}
