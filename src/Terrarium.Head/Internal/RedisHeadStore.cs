using Google.Protobuf;
using StackExchange.Redis;
using Terrarium.Protocol;

namespace Terrarium.Head.Internal;

/// <summary>
/// The head's state in Redis — nodes, jobs, actor names — written before the head answers, so that
/// a head killed at any moment and started again with the same Redis finds the cluster as it was.
/// Values are the protobuf messages the head serves, in four hashes under one key prefix.
/// </summary>
internal sealed class RedisHeadStore : IHeadStore
{
    private readonly ConnectionMultiplexer _redis;
    private readonly IDatabase _db;
    private readonly RedisKey _nodes;
    private readonly RedisKey _jobs;
    private readonly RedisKey _actorNames;
    private readonly RedisKey _movedActors;

    private RedisHeadStore(ConnectionMultiplexer redis, string prefix)
    {
        _redis = redis;
        _db = redis.GetDatabase();
        _nodes = prefix + "nodes";
        _jobs = prefix + "jobs";
        _actorNames = prefix + "actor-names";
        _movedActors = prefix + "moved-actors";
    }

    /// <param name="address"><c>redis://host:port</c>, or a StackExchange.Redis configuration string.</param>
    /// <param name="prefix">Put before every key.</param>
    /// <exception cref="InvalidOperationException">Redis cannot be reached.</exception>
    public static async Task<RedisHeadStore> ConnectAsync(string address, string prefix)
    {
        var configuration = address.StartsWith("redis://", StringComparison.OrdinalIgnoreCase) ? address["redis://".Length..].TrimEnd('/') : address;
        try
        {
            var redis = await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
            return new RedisHeadStore(redis, prefix);
        }
        catch (RedisConnectionException e)
        {
            throw new InvalidOperationException($"cannot reach Redis at {address}: {e.Message}", e);
        }
    }

    public async Task<StoredHeadState> LoadAsync()
    {
        var nodes = (await _db.HashGetAllAsync(_nodes).ConfigureAwait(false)).Select(e => NodeInfo.Parser.ParseFrom((byte[])e.Value!)).ToList();
        var jobs = (await _db.HashGetAllAsync(_jobs).ConfigureAwait(false))
            .Select(e => ((string)e.Name!, RegisterJobRequest.Parser.ParseFrom((byte[])e.Value!))).ToList();
        var names = (await _db.HashGetAllAsync(_actorNames).ConfigureAwait(false))
            .Select(e => ((string)e.Name!, LookupActorReply.Parser.ParseFrom((byte[])e.Value!))).ToList();
        var moved = (await _db.HashGetAllAsync(_movedActors).ConfigureAwait(false))
            .Select(e => LookupActorReply.Parser.ParseFrom((byte[])e.Value!)).ToList();
        return new StoredHeadState(nodes, jobs, names, moved);
    }

    public Task SaveNodeAsync(NodeInfo node) => _db.HashSetAsync(_nodes, node.NodeId, node.ToByteArray());

    public Task SaveJobAsync(string jobId, RegisterJobRequest job) => _db.HashSetAsync(_jobs, jobId, job.ToByteArray());

    public Task RemoveJobAsync(string jobId) => _db.HashDeleteAsync(_jobs, jobId);

    public Task SaveActorNameAsync(string name, LookupActorReply actor) => _db.HashSetAsync(_actorNames, name, actor.ToByteArray());

    public Task RemoveActorNamesAsync(IReadOnlyCollection<string> names) =>
        names.Count == 0 ? Task.CompletedTask : _db.HashDeleteAsync(_actorNames, names.Select(n => (RedisValue)n).ToArray());

    public Task SaveMovedActorAsync(LookupActorReply actor) => _db.HashSetAsync(_movedActors, actor.ActorId, actor.ToByteArray());

    public Task RemoveMovedActorsAsync(IReadOnlyCollection<string> actorIds) =>
        actorIds.Count == 0 ? Task.CompletedTask : _db.HashDeleteAsync(_movedActors, actorIds.Select(id => (RedisValue)id).ToArray());

    public async ValueTask DisposeAsync() => await _redis.DisposeAsync().ConfigureAwait(false);
}
