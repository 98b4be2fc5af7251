using Google.Protobuf;
using StackExchange.Redis;
using Terrarium.Protocol;

namespace Terrarium.Head.State;

/// <summary>
/// The head's state in Redis — nodes, jobs, actor names — written before the head answers, so that
/// a head killed at any moment and started again with the same Redis finds the cluster as it was.
/// Values are the protobuf messages the head serves, in hashes under one key prefix (and the
/// packages each job uses, as fields <c>JOB HASH</c> of one more). Job-level
/// runtime envs are stored as given, env var values included: protect this Redis with a password or
/// ACLs, as docs/security.md says.
/// </summary>
internal sealed class RedisHeadStore : IHeadStore
{
    private readonly ConnectionMultiplexer _redis;
    private readonly IDatabase _db;
    private readonly RedisKey _nodes;
    private readonly RedisKey _jobs;
    private readonly RedisKey _actorNames;
    private readonly RedisKey _movedActors;
    private readonly RedisKey _jobPackages;
    private readonly RedisKey _submissions;
    private readonly string _jobLogPrefix;

    private RedisHeadStore(ConnectionMultiplexer redis, string prefix)
    {
        _redis = redis;
        _db = redis.GetDatabase();
        _nodes = prefix + "nodes";
        _jobs = prefix + "jobs";
        _actorNames = prefix + "actor-names";
        _movedActors = prefix + "moved-actors";
        _jobPackages = prefix + "job-packages";
        _submissions = prefix + "submissions";
        _jobLogPrefix = prefix + "job-log:";
    }

    /// <param name="address">See <see cref="RedisAddress"/>.</param>
    /// <param name="prefix">Put before every key.</param>
    /// <param name="allowUnauthenticatedWrites">Use a Redis that anyone who reaches it may write to.</param>
    /// <exception cref="ArgumentException">The address does not parse.</exception>
    /// <exception cref="InvalidOperationException">Redis cannot be reached, refuses the credentials, or takes writes from anyone.</exception>
    public static async Task<RedisHeadStore> ConnectAsync(string address, string prefix, bool allowUnauthenticatedWrites)
    {
        var configuration = RedisAddress.Parse(address);
        ConnectionMultiplexer redis;
        try
        {
            redis = await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
        }
        catch (RedisConnectionException e)
        {
            throw new InvalidOperationException($"cannot reach Redis at {RedisAddress.Describe(address)}: {e.Message}", e);
        }

        try
        {
            if (!allowUnauthenticatedWrites && await TakesWritesFromAnyoneAsync(configuration, prefix).ConfigureAwait(false))
            {
                throw new InvalidOperationException(
                    $"Redis at {RedisAddress.Describe(address)} accepts writes without a password: any local user could rewrite the head's state (its nodes, its actor names) " +
                    "and steer drivers to a server of theirs. Start Redis with --requirepass (or an ACL user) and give --redis redis://:PASSWORD@HOST:PORT, " +
                    "or, on a machine no one else uses, --redis-insecure");
            }
        }
        catch
        {
            await redis.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new RedisHeadStore(redis, prefix);
    }

    public async Task<StoredHeadState> LoadAsync()
    {
        var nodes = Parse(_nodes, await _db.HashGetAllAsync(_nodes).ConfigureAwait(false), NodeInfo.Parser).Select(e => e.Value).ToList();
        var jobs = Parse(_jobs, await _db.HashGetAllAsync(_jobs).ConfigureAwait(false), RegisterJobRequest.Parser);
        var names = Parse(_actorNames, await _db.HashGetAllAsync(_actorNames).ConfigureAwait(false), LookupActorReply.Parser);
        var moved = Parse(_movedActors, await _db.HashGetAllAsync(_movedActors).ConfigureAwait(false), LookupActorReply.Parser).Select(e => e.Value).ToList();
        var jobPackages = (await _db.HashGetAllAsync(_jobPackages).ConfigureAwait(false)).Select(entry => (string)entry.Name!).Select(field =>
            field.Split(' ') is [var job, var hash]
                ? (job, hash)
                : throw new InvalidDataException(
                    $"the head's state in Redis is corrupt: {_jobPackages} field '{field}' is not 'JOB HASH'. " +
                    $"Remove it (redis-cli HDEL {_jobPackages} '{field}') or start the head with another Redis database")).ToList();
        var submissions = Parse(_submissions, await _db.HashGetAllAsync(_submissions).ConfigureAwait(false), JobSubmission.Parser).Select(e => e.Value).ToList();
        var logs = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var job in submissions)
        {
            logs[job.SubmissionId] = (byte[]?)await _db.StringGetAsync(JobLogKey(job.SubmissionId)).ConfigureAwait(false) ?? [];
        }

        return new StoredHeadState(nodes, jobs, names, moved) { JobPackages = jobPackages, Submissions = submissions, JobLogs = logs };
    }

    public Task RemoveNodesAsync(IReadOnlyCollection<string> nodeIds) =>
        nodeIds.Count == 0 ? Task.CompletedTask : _db.HashDeleteAsync(_nodes, nodeIds.Select(id => (RedisValue)id).ToArray());

    public Task SaveNodeAsync(NodeInfo node) => _db.HashSetAsync(_nodes, node.NodeId, node.ToByteArray());

    public Task SaveJobAsync(string jobId, RegisterJobRequest job) => _db.HashSetAsync(_jobs, jobId, job.ToByteArray());

    public Task RemoveJobAsync(string jobId) => _db.HashDeleteAsync(_jobs, jobId);

    public Task SaveJobPackageAsync(string jobId, string hash) => _db.HashSetAsync(_jobPackages, $"{jobId} {hash}", 1);

    public Task RemoveJobPackagesAsync(string jobId, IReadOnlyCollection<string> hashes) =>
        hashes.Count == 0 ? Task.CompletedTask : _db.HashDeleteAsync(_jobPackages, hashes.Select(h => (RedisValue)$"{jobId} {h}").ToArray());

    public Task SaveActorNameAsync(string name, LookupActorReply actor) => _db.HashSetAsync(_actorNames, name, actor.ToByteArray());

    public Task RemoveActorNamesAsync(IReadOnlyCollection<string> names) =>
        names.Count == 0 ? Task.CompletedTask : _db.HashDeleteAsync(_actorNames, names.Select(n => (RedisValue)n).ToArray());

    public Task SaveMovedActorAsync(LookupActorReply actor) => _db.HashSetAsync(_movedActors, actor.ActorId, actor.ToByteArray());

    public Task RemoveMovedActorsAsync(IReadOnlyCollection<string> actorIds) =>
        actorIds.Count == 0 ? Task.CompletedTask : _db.HashDeleteAsync(_movedActors, actorIds.Select(id => (RedisValue)id).ToArray());

    public Task SaveSubmissionAsync(JobSubmission job) => _db.HashSetAsync(_submissions, job.SubmissionId, job.ToByteArray());

    public async Task RemoveSubmissionAsync(string submissionId)
    {
        await _db.HashDeleteAsync(_submissions, submissionId).ConfigureAwait(false);
        await _db.KeyDeleteAsync(JobLogKey(submissionId)).ConfigureAwait(false);
    }

    public async Task AppendJobLogAsync(JobSubmission job, byte[] added, byte[]? replaceWith)
    {
        // One transaction: the output and the record's count of it never disagree after a crash.
        var key = JobLogKey(job.SubmissionId);
        var transaction = _db.CreateTransaction();
        _ = replaceWith is null ? (Task)transaction.StringAppendAsync(key, added) : transaction.StringSetAsync(key, replaceWith);
        _ = transaction.HashSetAsync(_submissions, job.SubmissionId, job.ToByteArray());
        await transaction.ExecuteAsync().ConfigureAwait(false);
    }

    private RedisKey JobLogKey(string submissionId) => _jobLogPrefix + submissionId;

    public async ValueTask DisposeAsync() => await _redis.DisposeAsync().ConfigureAwait(false);

    /// <summary>
    /// Whether a client without the head's credentials may write: it logs in as nobody and sets a
    /// short-lived key of the head's own. A Redis that refuses it (NOAUTH, or an ACL's NOPERM) is safe.
    /// </summary>
    private static async Task<bool> TakesWritesFromAnyoneAsync(ConfigurationOptions configuration, string prefix)
    {
        var anonymous = configuration.Clone();
        anonymous.User = null;
        anonymous.Password = null;
        anonymous.AbortOnConnectFail = true;
        anonymous.ConnectRetry = 0;
        try
        {
            await using var redis = await ConnectionMultiplexer.ConnectAsync(anonymous).ConfigureAwait(false);
            var key = prefix + "unauthenticated-write-probe";
            var written = await redis.GetDatabase().StringSetAsync(key, "1", TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            await redis.GetDatabase().KeyDeleteAsync(key).ConfigureAwait(false);
            return written;
        }
        catch (Exception e) when (e is RedisConnectionException or RedisServerException)
        {
            return false;
        }
        catch (RedisTimeoutException e)
        {
            throw new InvalidOperationException($"Redis did not answer the head's check of whether it takes writes without a password: {e.Message}", e);
        }
    }

    /// <summary>Every field of one hash, parsed; a field that does not parse stops the head, naming it.</summary>
    /// <exception cref="InvalidDataException">A field is not the message it should be.</exception>
    private static List<(string Key, T Value)> Parse<T>(RedisKey hash, HashEntry[] entries, Google.Protobuf.MessageParser<T> parser)
        where T : Google.Protobuf.IMessage<T>
    {
        var parsed = new List<(string, T)>(entries.Length);
        foreach (var entry in entries)
        {
            try
            {
                parsed.Add(((string)entry.Name!, parser.ParseFrom((byte[])entry.Value!)));
            }
            catch (Google.Protobuf.InvalidProtocolBufferException e)
            {
                throw new InvalidDataException(
                    $"the head's state in Redis is corrupt: {hash} field '{entry.Name}' is not a {typeof(T).Name} ({e.Message}). " +
                    $"Remove it (redis-cli HDEL {hash} '{entry.Name}') or start the head with another Redis database", e);
            }
        }

        return parsed;
    }
}
