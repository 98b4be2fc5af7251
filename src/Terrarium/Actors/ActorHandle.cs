using System.Linq.Expressions;

namespace Terrarium;

/// <summary>
/// A handle to an actor: a <typeparamref name="T"/> living in a worker process of its own. Calls run
/// one at a time, in the order they were made; an exception fails only its own call.
/// </summary>
public sealed class ActorHandle<T>
{
    private readonly Cluster _cluster;

    internal ActorHandle(Cluster cluster, string actorId, string? name, string nodeId)
    {
        _cluster = cluster;
        ActorId = actorId;
        Name = name;
        NodeId = nodeId;
    }

    /// <summary>Objects the constructor takes, kept from release while the actor's node may still copy them.</summary>
    internal object? KeptAlive { get; init; }

    /// <summary>The actor's id in the cluster.</summary>
    public string ActorId { get; }

    /// <summary>The actor's cluster-wide name, if it has one.</summary>
    public string? Name { get; }

    /// <summary>The node the actor lives on; calls go straight to its worker there.</summary>
    public string NodeId { get; }

    /// <summary>Calls a method of the actor: <c>actor.Call(x =&gt; x.Increment(5))</c>. Arguments are evaluated now.</summary>
    /// <exception cref="ArgumentException">The expression is not one call of a method of the actor.</exception>
    public ObjectRef<TResult> Call<TResult>(Expression<Func<T, TResult>> call) => _cluster.CallActor<TResult>(ActorId, NodeId, Name, call);

    /// <summary>Calls an async method of the actor; the ref holds the awaited value.</summary>
    /// <exception cref="ArgumentException">The expression is not one call of a method of the actor.</exception>
    public ObjectRef<TResult> Call<TResult>(Expression<Func<T, Task<TResult>>> call) => _cluster.CallActor<TResult>(ActorId, NodeId, Name, call);

    /// <summary>Calls a method of the actor with options, such as the concurrency group to run in.</summary>
    /// <exception cref="ArgumentException">The expression is not one call of a method of the actor, or the options are invalid.</exception>
    public ObjectRef<TResult> Call<TResult>(Expression<Func<T, TResult>> call, ActorCallOptions options) => _cluster.CallActor<TResult>(ActorId, NodeId, Name, call, options);

    /// <summary>Calls an async method of the actor with options, such as the concurrency group to run in.</summary>
    /// <exception cref="ArgumentException">The expression is not one call of a method of the actor, or the options are invalid.</exception>
    public ObjectRef<TResult> Call<TResult>(Expression<Func<T, Task<TResult>>> call, ActorCallOptions options) => _cluster.CallActor<TResult>(ActorId, NodeId, Name, call, options);

    /// <summary>Kills the actor's process. Calls not yet run fail with <see cref="ActorDiedException"/>, as do later ones.</summary>
    public Task KillAsync(CancellationToken ct = default) => _cluster.KillActorAsync(ActorId, NodeId, Name, ct);

    /// <inheritdoc />
    public override string ToString() => Name is null ? $"Actor({ActorId})" : $"Actor({Name}, {ActorId})";
}
