using MessagePack;
using MessagePack.Formatters;
using Terrarium.Serialization;

namespace Terrarium.Actors;

/// <summary>
/// Lets an <see cref="ActorHandle{T}"/> travel as an argument or a result: it goes over the wire as
/// its actor's id, name and node, and comes back bound to the cluster that reads it (a result, to the
/// cluster whose ref it is; an argument in a task or actor, to <see cref="Cluster.Current"/>).
/// </summary>
internal sealed class ActorHandleResolver : IFormatterResolver
{
    public static readonly ActorHandleResolver Instance = new();

    public IMessagePackFormatter<T>? GetFormatter<T>() => Cache<T>.Formatter;

    private static class Cache<T>
    {
        public static readonly IMessagePackFormatter<T>? Formatter =
            typeof(T).IsGenericType && typeof(T).GetGenericTypeDefinition() == typeof(ActorHandle<>)
                ? (IMessagePackFormatter<T>?)Activator.CreateInstance(typeof(ActorHandleFormatter<>).MakeGenericType(typeof(T).GetGenericArguments()))
                : null;
    }
}

internal sealed class ActorHandleFormatter<TActor> : IMessagePackFormatter<ActorHandle<TActor>?>
{
    public void Serialize(ref MessagePackWriter writer, ActorHandle<TActor>? value, MessagePackSerializerOptions options)
    {
        if (value is null)
        {
            writer.WriteNil();
            return;
        }

        writer.WriteArrayHeader(3);
        writer.Write(value.ActorId);
        writer.Write(value.Name);
        writer.Write(value.NodeId);
    }

    public ActorHandle<TActor>? Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil())
        {
            return null;
        }

        if (reader.ReadArrayHeader() != 3)
        {
            throw new MessagePackSerializationException("an actor handle is an array of its id, name and node id");
        }

        var actorId = reader.ReadString();
        var name = reader.ReadString();
        var nodeId = reader.ReadString() ?? "";
        if (string.IsNullOrEmpty(actorId))
        {
            throw new MessagePackSerializationException("an actor handle needs an actor id");
        }

        return new ActorHandle<TActor>((options as ClusterBoundOptions)?.Cluster ?? Cluster.Current, actorId, name, nodeId);
    }
}
