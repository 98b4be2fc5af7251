using System.Runtime.InteropServices;
using Terrarium.Serialization;

namespace Terrarium.Tests.Client.Serialization;

/// <summary>How values are read: a <see cref="ReadOnlyMemory{T}"/> of bytes binds to the serialized value without a copy.</summary>
public sealed class SerializerTests
{
    [Theory]
    [InlineData(10, 2)]
    [InlineData(300, 3)]
    [InlineData(70_000, 5)]
    public void ReadOnlyMemoryOfBytes_IsTheSerializedBytesThemselves(int length, int header)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        var serialized = Serializer.Serialize(typeof(ReadOnlyMemory<byte>), new ReadOnlyMemory<byte>(bytes), "the value");

        var read = Serializer.Deserialize<ReadOnlyMemory<byte>>(serialized.Memory);
        var boxed = (ReadOnlyMemory<byte>)Serializer.Deserialize(typeof(ReadOnlyMemory<byte>), serialized.Memory)!;

        Assert.True(read.Span.SequenceEqual(bytes));
        Assert.True(boxed.Span.SequenceEqual(bytes));
        Assert.True(MemoryMarshal.TryGetArray(read, out var segment));
        Assert.True(MemoryMarshal.TryGetArray(serialized.Memory, out var whole));
        Assert.Same(whole.Array, segment.Array);
        Assert.Equal(whole.Offset + header, segment.Offset);
    }

    [Fact]
    public void ReadOnlyMemoryOfBytes_FromAByteArrayResult_ReadsTheSame_AndAByteArrayIsACopy()
    {
        var serialized = Serializer.Serialize(typeof(byte[]), new byte[] { 1, 2, 3 }, "the value");

        Assert.Equal([1, 2, 3], Serializer.Deserialize<ReadOnlyMemory<byte>>(serialized.Memory).ToArray());
        Assert.Equal([1, 2, 3], Serializer.Deserialize<byte[]>(serialized.Memory));
    }

    [Fact]
    public void ReadOnlyMemoryOfBytes_FromAnythingButOneBin_IsReadAsMessagePackReadsIt()
    {
        var serialized = Serializer.Serialize(typeof(string), "not bytes", "the value");

        var read = Serializer.Deserialize<ReadOnlyMemory<byte>>(serialized.Memory);

        Assert.Equal(MessagePack.MessagePackSerializer.Deserialize<ReadOnlyMemory<byte>>(serialized.Memory, Serializer.Options).ToArray(), read.ToArray());
        Assert.Equal("not bytes"u8.ToArray(), read.ToArray());
    }
}
