using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;
using Terrarium.Node.Objects;
using Terrarium.Protocol;
using Terrarium.Protocol.SharedMemory;
using Terrarium.Protocol.Transport;

namespace Terrarium.Node.Sessions;

/// <summary>
/// One driver's (or nested-submitting worker's) session, seen from the node's end (the client's end
/// is <c>Terrarium.Sessions.Session</c>): its envs and its event stream. The stream
/// may break and the client come back on a new one (<see cref="Attach"/>): the session, its objects
/// and its job live on, and the count of requests handled tells the client what to send again.
/// </summary>
internal sealed class Session(string id, OpenSession open)
{
    private readonly ConcurrentDictionary<string, string> _envs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _refusedEnvs = new(StringComparer.Ordinal);
    private BatchingWriter<SessionEvent, SessionBatch>? _events;
    private CancellationTokenSource? _superseded;
    private int _generation;

    public string Id { get; } = id;

    /// <summary>Values the client uploaded (UploadValue, or a put on the transfer channel) for puts it has not sent yet, by object id.</summary>
    public ConcurrentDictionary<string, ByteString> Uploads { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Forgets the uploads no put claimed (the session ended between the upload and its put): one
    /// that lives in the shared-memory store has its file removed with it.
    /// </summary>
    public void DropUnclaimedUploads()
    {
        foreach (var id in Uploads.Keys)
        {
            if (Uploads.TryRemove(id, out var unclaimed))
            {
                SharedMemoryStore.Remove(unclaimed);
            }
        }
    }

    public string JobId { get; } = open.JobId;

    public JobCode JobCode { get; } = new(open.JobCodeDir, open.JobCodeUri);

    /// <summary>The envs this session asked the node to build ahead (its job env's eager install): in use while it lasts.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, bool> EagerEnvs { get; } = new(StringComparer.Ordinal);

    /// <summary>The worker submitting through this session, or empty for a driver.</summary>
    public string WorkerId { get; } = open.WorkerId;

    /// <summary>The job's driver (on any node), not a worker of this node or another's: its end ends the job here.</summary>
    public bool IsDriver => WorkerId.Length == 0 && !RemoteWorker;

    /// <summary>A worker of another node submitting or calling here.</summary>
    public bool RemoteWorker { get; } = open.RemoteWorker;

    /// <summary>The first session its driver opened: when it ends, the job is over (the head hears so).</summary>
    public bool IsJobHome { get; } = open.JobHome && open.WorkerId.Length == 0;

    /// <summary>Held while a batch of requests is handled, and while a new stream takes over.</summary>
    public Lock HandleLock { get; } = new();

    /// <summary>How many requests were handled, in order (guarded by <see cref="HandleLock"/>).</summary>
    public long RequestsHandled { get; set; }

    /// <summary>Which attachment is current: a stream whose number is older must not handle anything more.</summary>
    public int Generation => Volatile.Read(ref _generation);

    public Task Completion => _events?.Completion ?? Task.CompletedTask;

    /// <summary>
    /// Serves the session on a (new) stream; call with <see cref="HandleLock"/> held. The previous
    /// stream, if the node had not seen it break yet (a peer that vanished), is ended.
    /// </summary>
    /// <returns>The stream's generation, and a token that ends the stream's reading when it is superseded.</returns>
    public (int Generation, CancellationToken Reading) Attach(IServerStreamWriter<SessionBatch> stream, CancellationToken ct)
    {
        _events?.Complete();
        _superseded?.Cancel();
        _superseded?.Dispose();
        _superseded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        _events = new BatchingWriter<SessionEvent, SessionBatch>(stream, () => new SessionBatch(), (b, e) => b.Events.Add(e), ct);
        return (Interlocked.Increment(ref _generation), _superseded.Token);
    }

    /// <summary>
    /// Names a runtime env for this session's later requests. The node reads and validates the JSON
    /// itself and computes its hash: envs are built and cached by hash, so a client naming another
    /// env's hash with its own JSON would have the node run other clients' work in an env of its choosing.
    /// </summary>
    /// <returns>Null once defined; else why not (later work naming the hash is refused with it).</returns>
    public string? DefineEnv(string hash, string json)
    {
        string? refusal;
        try
        {
            var env = Terrarium.Protocol.RuntimeEnvs.RuntimeEnvReader.Read(json);
            Terrarium.Protocol.RuntimeEnvs.RuntimeEnvValidator.Validate(env, "runtime_env");
            var canonical = Terrarium.Protocol.RuntimeEnvs.RuntimeEnvWriter.Write(env);
            var actual = Terrarium.Protocol.RuntimeEnvs.RuntimeEnvWriter.Hash(canonical);
            refusal = canonical != json ? $"its JSON is not in canonical form (expected {canonical})"
                : actual.Length == 0 ? "it is empty; work without an env names no hash"
                : hash != actual ? $"its hash is {actual}, not {hash}"
                : null;
        }
        catch (ArgumentException e)
        {
            refusal = e.Message;
        }

        if (refusal is null)
        {
            _envs[hash] = json;
        }
        else if (hash.Length > 0)
        {
            _refusedEnvs[hash] = refusal;
        }

        return refusal;
    }

    /// <summary>Why a runtime env was not defined, if it was refused.</summary>
    public string? RefusalOfEnv(string hash) => _refusedEnvs.GetValueOrDefault(hash);

    public bool TryGetEnv(string hash, out string canonicalJson)
    {
        if (hash.Length == 0)
        {
            canonicalJson = "";
            return true;
        }

        return _envs.TryGetValue(hash, out canonicalJson!);
    }

    /// <summary>Sends an event on the current stream; while the stream is broken it is dropped.</summary>
    public void Send(SessionEvent e) => _events?.TryWrite(e);

    public void NotifyReady(string objectId, ObjectResult result)
    {
        var ready = new ObjectReady { ObjectId = objectId };
        if (result.Error is { } error)
        {
            ready.Error = error;
        }
        else if (result.Value!.Length > MessageLimits.InlineValueBytes)
        {
            // Stays here until the owner needs it, then travels in pieces (FetchObject), or is
            // mapped by an owner on this machine.
            ready.StoredLength = result.Value.Length;
            ready.StoredPath = MappedValue.Of(result.Value)?.Path ?? "";
        }
        else
        {
            ready.Value = result.Value;
        }

        Send(new SessionEvent { ObjectReady = ready });
    }

    public void Close() => _events?.Complete();
}
