using System.Buffers;
using System.Text;
using Terrarium.Protocol.Framing;
using Terrarium.Protocol.Transport;

namespace Terrarium.Actors;

/// <summary>
/// How a caller and an actor's worker talk on a framed connection (the data plane): the caller
/// first names the actor it means (a worker that took over an old address refuses, saying whose
/// it is), then sends batches of calls; the worker runs them one at a time in the order they came
/// and sends the results back in that order. Cancels go on a connection of their own, since a
/// connection's calls run on the thread that reads them.
/// </summary>
internal static class ActorFrames
{
    /// <summary>Caller → worker, first: the actor's id (UTF-8).</summary>
    public const byte Open = 1;

    /// <summary>Worker → caller: why it will not serve this caller (UTF-8); then it closes.</summary>
    public const byte Refused = 2;

    /// <summary>Caller → worker: an <c>ActorCallBatch</c>.</summary>
    public const byte Calls = 3;

    /// <summary>Worker → caller: an <c>ActorResultBatch</c>.</summary>
    public const byte Results = 4;

    /// <summary>Caller → worker: a <c>CancelActorCalls</c>.</summary>
    public const byte Cancel = 5;

    /// <summary>Worker → caller, after a <see cref="Cancel"/>: a <c>CancelActorCallsReply</c>, once the worker holds the cancels.</summary>
    public const byte Cancelled = 6;

    /// <summary>The largest frame either end sends or accepts: one call or result with a value of the largest size.</summary>
    public const int MaxFrameBytes = MessageLimits.MaxMessageBytes;

    /// <summary>Opens a connection to the actor <paramref name="actorId"/>, at the first of <paramref name="addresses"/> that can be reached.</summary>
    public static async Task<FramedConnection> OpenAsync(IReadOnlyList<Endpoint> addresses, Protocol.Security.ClusterCredentials credentials, string actorId, CancellationToken ct)
    {
        var connection = await FramedClient.ConnectToFirstAsync(addresses, credentials, MaxFrameBytes, ct).ConfigureAwait(false);
        try
        {
            await connection.SendAsync(Open, Encoding.UTF8.GetBytes(actorId), ct).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public static string Text(in Frame frame) => Encoding.UTF8.GetString(frame.Payload.ToArray());
}
