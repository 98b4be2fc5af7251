using Terrarium.Node.Sessions;
using Terrarium.Protocol;
using Terrarium.Protocol.Framing;
using Terrarium.Protocol.Objects;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.SharedMemory;
using Terrarium.Protocol.Transport;

namespace Terrarium.Node.Objects;

/// <summary>
/// Serves this node's values to other nodes on the object transfer channel
/// (<see cref="ObjectTransfer"/>): on a Unix socket in the node's private session folder, for
/// nodes of this machine and user, and, when the node listens on TCP, on a TCP port of its own
/// with the cluster's TLS, for the rest. Values are written from where they live (a shared-memory
/// mapping), in large pieces, with no copy of their own.
/// </summary>
internal sealed class ObjectTransferServer(NodeOptions options, ClusterCredentials credentials, ObjectStore objects, DetachedSessions sessions) : IAsyncDisposable
{
    private readonly List<FramedListener> _listeners = [];

    /// <summary>The Unix socket it serves; empty until started.</summary>
    public string Socket { get; private set; } = "";

    /// <summary>Its TCP endpoint as other machines reach it; empty until started, or when the node serves no TCP.</summary>
    public string Address { get; private set; } = "";

    /// <summary>The Unix socket a node of these options serves (a container's worker has it mounted).</summary>
    public static string SocketPathOf(NodeOptions options) => Path.Combine(options.SessionDirectory, "objects.sock");

    /// <summary>Starts serving; <paramref name="advertisedHost"/> is the host other machines reach the node at.</summary>
    public void Start(string? advertisedHost)
    {
        var socket = Endpoint.UnixSocket(SocketPathOf(options));
        // A node that crashed left its socket file behind; the folder is this node's alone.
        File.Delete(socket.SocketPath!);
        _listeners.Add(FramedListener.Start(socket, credentials, ObjectTransfer.MaxFrameBytes, ServeAsync));
        if (options.Endpoints.FirstOrDefault(e => e.SocketPath is null) is { } tcp)
        {
            var listener = FramedListener.Start(Endpoint.Tcp(tcp.Host!, 0), credentials, ObjectTransfer.MaxFrameBytes, ServeAsync);
            _listeners.Add(listener);
            Address = Endpoint.Tcp(advertisedHost ?? tcp.Host!, listener.Endpoint.Port).ToString();
        }

        Socket = socket.SocketPath!;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var listener in _listeners)
        {
            await listener.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>One client's fetches and puts, one after another, until it closes the connection.</summary>
    private async Task ServeAsync(FramedConnection connection, CancellationToken ct)
    {
        while (await connection.ReadAsync(ct).ConfigureAwait(false) is { } frame)
        {
            if (frame.Type == ObjectTransfer.Fetch)
            {
                await AnswerAsync(connection, ObjectFetch.Parser.ParseFrom(frame.Payload), ct).ConfigureAwait(false);
            }
            else if (frame.Type != ObjectTransfer.Put || !await TakePutAsync(connection, ObjectPut.Parser.ParseFrom(frame.Payload), ct).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    /// <summary>
    /// Receives a value a session puts, into the store when the node has one, for the session's
    /// PutObject to name as uploaded. A put that is refused has its bytes read and dropped, so the
    /// connection stays in step; false when even that cannot be done (a length out of bounds).
    /// </summary>
    private async Task<bool> TakePutAsync(FramedConnection connection, ObjectPut put, CancellationToken ct)
    {
        if (put.Length is <= 0 or > MessageLimits.MaxValueBytes)
        {
            await connection.SendAsync(ObjectTransfer.PutReply, new ObjectPutReply { Error = $"a put of {put.Length} bytes is not between 1 and {MessageLimits.MaxValueBytes}" }, ct).ConfigureAwait(false);
            return false;
        }

        var session = put.NodeId == options.NodeId && put.ObjectId.Length > 0 ? sessions.Find(put.SessionId) : null;
        if (session is null)
        {
            using (await ObjectTransfer.ReceiveAsync(connection, put.Length, length => new DiscardSink(length), $"object {Shown(put.ObjectId)}", ct).ConfigureAwait(false))
            {
            }

            var why = put.NodeId != options.NodeId ? $"this is node {options.NodeId}, not node '{Shown(put.NodeId)}'"
                : put.ObjectId.Length == 0 ? "a put needs an object id"
                : $"node {options.NodeId} has no session '{Shown(put.SessionId)}'";
            await connection.SendAsync(ObjectTransfer.PutReply, new ObjectPutReply { Error = why, WrongNode = put.NodeId != options.NodeId }, ct).ConfigureAwait(false);
            return true;
        }

        session.Uploads[put.ObjectId] = await ReceiveIntoStoreAsync(connection, session, put, ct).ConfigureAwait(false);
        await connection.SendAsync(ObjectTransfer.PutReply, new ObjectPutReply(), ct).ConfigureAwait(false);
        return true;
    }

    /// <summary>A put's bytes, in a file of the store when it can take them, else in the node's memory.</summary>
    private async Task<Google.Protobuf.ByteString> ReceiveIntoStoreAsync(FramedConnection connection, Session session, ObjectPut put, CancellationToken ct)
    {
        var what = $"object {Shown(put.ObjectId)}";
        if (objects.Shared is { } shared)
        {
            var staging = shared.StagingFor(session.Id);
            StagedFile? file = null;
            try
            {
                file = StagedValue.Open(staging, put.Length);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The store is full, or its folder cannot be written: into the node's memory instead.
            }

            if (file is not null)
            {
                using var received = await ObjectTransfer.ReceiveAsync(connection, put.Length, _ => file, what, ct).ConfigureAwait(false);
                return shared.TakeOver(received.Seal(), staging);
            }
        }

        using var buffer = await ObjectTransfer.ReceiveAsync(connection, put.Length, length => new BufferSink(length), what, ct).ConfigureAwait(false);
        return buffer.Value;
    }

    private async Task AnswerAsync(FramedConnection connection, ObjectFetch fetch, CancellationToken ct)
    {
        if (fetch.NodeId != options.NodeId)
        {
            await RefuseAsync(connection, $"this is node {options.NodeId}, not node '{Shown(fetch.NodeId)}'", wrongNode: true, ct).ConfigureAwait(false);
            return;
        }

        if (objects.Find(fetch.ObjectId) is not { } held)
        {
            await RefuseAsync(connection, $"node {options.NodeId} does not hold object '{Shown(fetch.ObjectId)}' (released or never created)", wrongNode: false, ct).ConfigureAwait(false);
            return;
        }

        // The value stays mapped while it is sent, even if its owner releases it meanwhile: this
        // reference keeps the mapping alive, and spilling moves the file, never the memory.
        var result = await held.WaitAsync(ct).ConfigureAwait(false);
        if (result.Error is { } error)
        {
            await RefuseAsync(connection, $"object '{Shown(fetch.ObjectId)}' has no value: {(error.Message.Length <= 16_000 ? error.Message : error.Message[..16_000] + "…")}", wrongNode: false, ct).ConfigureAwait(false);
            return;
        }

        await ObjectTransfer.SendValueAsync(connection, result.Value!.Memory, ct).ConfigureAwait(false);
    }

    /// <summary>An id as a refusal repeats it: a client's id too long for a reply frame is cut.</summary>
    private static string Shown(string id) => id.Length <= 200 ? id : id[..200] + "…";

    private static ValueTask RefuseAsync(FramedConnection connection, string why, bool wrongNode, CancellationToken ct) =>
        connection.SendAsync(ObjectTransfer.Reply, new ObjectFetchReply { Error = why, WrongNode = wrongNode }, ct);
}
