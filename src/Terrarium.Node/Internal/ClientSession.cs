using System.Collections.Concurrent;
using Grpc.Core;
using Terrarium.Protocol;
using Terrarium.Protocol.Hosting;

namespace Terrarium.Node.Internal;

/// <summary>One driver's (or nested-submitting worker's) session: its envs and its event stream.</summary>
internal sealed class ClientSession(string id, OpenSession open, IServerStreamWriter<SessionBatch> stream, CancellationToken ct)
{
    private readonly ConcurrentDictionary<string, string> _envs = new(StringComparer.Ordinal);
    private readonly BatchingWriter<SessionEvent, SessionBatch> _events =
        new(stream, () => new SessionBatch(), (b, e) => b.Events.Add(e), ct);

    public string Id { get; } = id;

    public string JobId { get; } = open.JobId;

    public string JobCodeDir { get; } = open.JobCodeDir;

    /// <summary>The worker submitting through this session, or empty for a driver.</summary>
    public string WorkerId { get; } = open.WorkerId;

    public bool IsDriver => WorkerId.Length == 0;

    public Task Completion => _events.Completion;

    public void DefineEnv(string hash, string canonicalJson) => _envs[hash] = canonicalJson;

    public bool TryGetEnv(string hash, out string canonicalJson)
    {
        if (hash.Length == 0)
        {
            canonicalJson = "";
            return true;
        }

        return _envs.TryGetValue(hash, out canonicalJson!);
    }

    public void Send(SessionEvent e) => _events.TryWrite(e);

    public void NotifyReady(string objectId, ObjectResult result)
    {
        var ready = new ObjectReady { ObjectId = objectId };
        if (result.Error is { } error)
        {
            ready.Error = error;
        }
        else
        {
            ready.Value = result.Value;
        }

        Send(new SessionEvent { ObjectReady = ready });
    }

    public void Close() => _events.Complete();
}
