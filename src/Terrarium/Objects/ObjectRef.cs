using System.Runtime.CompilerServices;
using Terrarium.Objects;
using Terrarium.Serialization;
using Terrarium.Sessions;

namespace Terrarium;

/// <summary>A reference to the result of a task or actor call, which may not exist yet.</summary>
public abstract class ObjectRef
{
    private protected ObjectRef(ObjectHandle handle) => Handle = handle;

    /// <summary>The object's id in the cluster.</summary>
    public string Id => Handle.Id;

    /// <summary>
    /// Whether the value (or the error) is ready. A result over 1 MiB is ready on the node that made
    /// it; awaiting the ref then fetches it.
    /// </summary>
    public bool IsReady => Handle.Ready.IsCompleted;

    internal ObjectHandle Handle { get; }

    /// <inheritdoc />
    public override string ToString() => $"ObjectRef({Id})";
}

/// <summary>
/// A reference to a <typeparamref name="T"/> a task or actor call produces. Await it (or call
/// <see cref="GetAsync"/>) for the value. Written where a submitted method expects a
/// <typeparamref name="T"/>, it makes that task depend on it: the task runs with the value once it
/// is ready, and the driver never fetches it.
/// </summary>
public sealed class ObjectRef<T> : ObjectRef
{
    private Task<T>? _value;

    internal ObjectRef(ObjectHandle handle) : base(handle)
    {
    }

    /// <summary>
    /// Only for use inside a <c>Submit</c> or <c>Call</c> expression, where it marks a dependency.
    /// Anywhere else it throws rather than block: await the ref instead.
    /// </summary>
    /// <exception cref="InvalidOperationException">Always, when called outside an expression.</exception>
    public static implicit operator T(ObjectRef<T> reference) => throw new InvalidOperationException(
        $"{reference} converts to {typeof(T).Name} only inside a Submit or Call expression, where it makes the call wait for the value; " +
        "elsewhere, await the ref (or call GetAsync) to get its value");

    /// <summary>Waits for the value.</summary>
    /// <exception cref="TaskFailedException">The task threw.</exception>
    /// <exception cref="WorkerCrashedException">Its worker died, after the retries allowed.</exception>
    /// <exception cref="ActorDiedException">The actor it was called on is dead.</exception>
    /// <exception cref="RuntimeEnvSetupException">Its runtime env could not be built.</exception>
    public Task<T> GetAsync(CancellationToken ct = default)
    {
        var value = _value ??= LoadAsync();
        return ct.CanBeCanceled ? value.WaitAsync(ct) : value;
    }

    /// <summary>Lets <c>await reference</c> wait for the value.</summary>
    public TaskAwaiter<T> GetAwaiter() => GetAsync().GetAwaiter();

    private async Task<T> LoadAsync()
    {
        await Handle.WaitAsync().ConfigureAwait(false);
        var ready = await Handle.ValueAsync().ConfigureAwait(false);
        if (ready.Error is { } error)
        {
            throw Errors.ToException(error);
        }

        return Serializer.Deserialize<T>(ready.Value.Memory, Handle.Session.ValueOptions);
    }
}
