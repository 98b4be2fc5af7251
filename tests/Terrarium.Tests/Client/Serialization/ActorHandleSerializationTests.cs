using MessagePack;
using Terrarium.Serialization;

namespace Terrarium.Tests.Client.Serialization;

public sealed class ActorHandleSerializationTests
{
    [Fact]
    public void Serialize_WritesTheActorIdNameAndNode()
    {
        var bytes = Serializer.Serialize(typeof(ActorHandle<object>), new ActorHandle<object>(null!, "actor-1", "ledger", "node-1"), "argument");

        Assert.Equal("[\"actor-1\",\"ledger\",\"node-1\"]", MessagePackSerializer.ConvertToJson(bytes.Memory));
    }

    [Fact]
    public void Deserialize_WrongShape_IsRefused()
    {
        var bytes = MessagePackSerializer.ConvertFromJson("[\"actor-1\",\"ledger\"]");

        Assert.Throws<MessagePackSerializationException>(() => Serializer.Deserialize(typeof(ActorHandle<object>), bytes));
    }

    [Fact]
    public void Deserialize_EmptyActorId_IsRefused()
    {
        var bytes = MessagePackSerializer.ConvertFromJson("[\"\",null,\"node-1\"]");

        Assert.Throws<MessagePackSerializationException>(() => Serializer.Deserialize(typeof(ActorHandle<object>), bytes));
    }
}
