namespace Terrarium.Protocol.Transport;

/// <summary>
/// Sizes every process of a cluster agrees on. gRPC cannot carry a message of 2 GiB or more, and a
/// message over a peer's limit ends the whole connection, so values are refused at submission
/// before they come near it, and batches are cut by size.
/// </summary>
public static class MessageLimits
{
    /// <summary>The largest serialized value that travels in messages (arguments, actor calls and their results, uploads): 1 GiB.</summary>
    public const int MaxValueBytes = 1 << 30;

    /// <summary>
    /// The largest serialized task result a worker writes into its node's shared-memory store, which
    /// no message carries: what one array holds (just under 2 GiB). Without a store, or to a process
    /// that cannot map it, such a value is refused as over <see cref="MaxValueBytes"/>.
    /// </summary>
    public const int MaxStoredValueBytes = 0x7FFFFFC7;

    /// <summary>The largest message a process sends or accepts: one value plus room for its envelope.</summary>
    public const int MaxMessageBytes = MaxValueBytes + (64 << 20);

    /// <summary>
    /// A value larger than this does not travel inside the messages that steer work; it follows in
    /// pieces (<see cref="ObjectChunks"/>) when it is needed. A task's result stays on the node that
    /// made it (its owner hears its length and fetches it), a task's argument is fetched by the
    /// worker that runs it, a task's result is uploaded by its worker before it reports it done, and
    /// a value a client puts is uploaded before the put that names it.
    /// </summary>
    public const int InlineValueBytes = 1 << 20;

    /// <summary>A batch of small items is sent once it reaches this size; a larger item travels alone.</summary>
    public const int BatchBytes = 4 << 20;
}
