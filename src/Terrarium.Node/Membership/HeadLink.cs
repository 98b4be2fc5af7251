using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Terrarium.Node.Resources;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.Service;
using Terrarium.Protocol;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Node.Membership;

/// <summary>The node's connection to the head: registration, heartbeats, actor-name releases, other nodes' addresses.</summary>
internal sealed class HeadLink(NodeOptions options, ClusterCredentials credentials, ResourceLedger ledger, ILogger<HeadLink> logger) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private GrpcChannel? _channel;
    private Protocol.Head.HeadClient? _client;
    private Task _heartbeats = Task.CompletedTask;
    private int _disposed;

    // Jobs whose driver left this node, until a heartbeat has told the head.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _endedJobs = new(StringComparer.Ordinal);

    // How far this node has read the head's list of ended jobs, and which head's list it is.
    private long _endedJobsCursor;
    private string _endedJobsEpoch = "";

    /// <summary>
    /// A job ended at the head (its driver finished it, or its home node saw the driver go): its work
    /// here ends too, even work that came through other jobs' workers' sessions only.
    /// </summary>
    public event Action<string>? JobEnded;

    /// <summary>The jobs whose detached actors live on the node, told with each heartbeat.</summary>
    public Func<IEnumerable<string>> DetachedActorJobs { get; set; } = () => [];

    /// <summary>The submitted jobs' drivers the node runs: reported with each heartbeat, started and stopped as the replies say.</summary>
    public Jobs.JobDrivers? JobDrivers { get; set; }

    /// <summary>Registers the node (<paramref name="info"/>, its resources added here) and starts its heartbeats.</summary>
    public async Task StartAsync(NodeInfo info, CancellationToken ct)
    {
        var (channel, invoker) = ClusterChannel.Open(options.Head!, credentials);
        _channel = channel;
        _client = new Protocol.Head.HeadClient(invoker);
        info.Resources.Add(ledger.Total);
        var reply = await _client.RegisterNodeAsync(new RegisterNodeRequest { Node = info }, cancellationToken: ct).ConfigureAwait(false);
        var interval = TimeSpan.FromSeconds(Math.Max(0.05, reply.HeartbeatIntervalSeconds));
        _heartbeats = Task.Run(() => HeartbeatLoopAsync(info, interval, _stop.Token), CancellationToken.None);
    }

    /// <summary>
    /// How long a package the head does not know may still be on its way: a driver submits without
    /// waiting for its upload, so the env's definition can reach this node a moment before the
    /// upload reaches the head. (Once the upload has begun, the head says so, and the node waits for
    /// it as long as the env's setup may take.)
    /// </summary>
    public static readonly TimeSpan UploadStartGrace = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Streams a package from the head's store to <paramref name="destination"/>, verifying its hash;
    /// waits for a package that is still being uploaded.
    /// </summary>
    public async Task DownloadPackageAsync(string hash, string destination, CancellationToken ct)
    {
        var asked = options.TimeProvider.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            try
            {
                await DownloadOnceAsync(hash, destination, ct).ConfigureAwait(false);
                return;
            }
            catch (RpcException e) when (IsArriving(e) || (e.StatusCode == StatusCode.NotFound && options.TimeProvider.GetElapsedTime(asked) < UploadStartGrace))
            {
                await Task.Delay(delay, options.TimeProvider, ct).ConfigureAwait(false);
                // At most a quarter second late once it is there: an eager build asks while the upload runs.
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromMilliseconds(250).Ticks));
            }
            catch (RpcException e)
            {
                throw new PackageFetchException($"pkg://{hash}: cannot download from the head: {e.Status.Detail}", e);
            }
        }

        static bool IsArriving(RpcException e) => e.StatusCode == StatusCode.Unavailable && e.Trailers.GetValue(UploadHeaders.PackageUploading) == "1";
    }

    private async Task DownloadOnceAsync(string hash, string destination, CancellationToken ct)
    {
        using var call = _client!.DownloadPackage(new DownloadPackageRequest { Hash = hash }, cancellationToken: ct);
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        await using (var file = File.Create(destination))
        {
            await foreach (var chunk in call.ResponseStream.ReadAllAsync(ct).ConfigureAwait(false))
            {
                sha.AppendData(chunk.Data.Span);
                await file.WriteAsync(chunk.Data.Memory, ct).ConfigureAwait(false);
            }
        }

        var actual = Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
        if (actual != hash)
        {
            throw new PackageFetchException($"pkg://{hash}: the head sent content hashing to {actual}");
        }
    }

    /// <summary>Where a live node of the cluster listens, as it registered with the head.</summary>
    /// <exception cref="KeyNotFoundException">The head knows no live node of that id.</exception>
    /// <exception cref="RpcException">The head cannot be reached.</exception>
    public async Task<NodeInfo> NodeAsync(string nodeId, CancellationToken ct)
    {
        var nodes = await _client!.ListNodesAsync(new ListNodesRequest(), cancellationToken: ct).ConfigureAwait(false);
        return nodes.Nodes.FirstOrDefault(n => n.Alive && n.Node.NodeId == nodeId) is { } node
            ? node.Node
            : throw new KeyNotFoundException($"the head knows no live node '{nodeId}'");
    }

    /// <summary>
    /// The job's driver left (its home session here ended): the head hears it with the next
    /// heartbeat, or the first one it answers, and frees what the job held.
    /// </summary>
    public void ReportJobEnded(string jobId) => _endedJobs[jobId] = true;

    /// <summary>Frees a dead actor's name at the head; completes once the head has (or could not be reached, which is logged).</summary>
    public async Task ReleaseActorNameAsync(string name, string actorId)
    {
        // A node that is leaving kills its actors on the way out; the head frees their names when
        // their jobs end, or, for a detached actor's, when a driver kills it or the head forgets
        // the node, so there is nothing to say (a warning per actor was only noise).
        if (_client is null || Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        try
        {
            await _client.ReleaseActorNameAsync(new ReleaseActorNameRequest { Name = name, ActorId = actorId },
                deadline: DateTime.UtcNow.AddSeconds(30)).ConfigureAwait(false);
        }
        catch (Exception e) when ((e is RpcException or ObjectDisposedException or InvalidOperationException) && Volatile.Read(ref _disposed) == 0)
        {
            NodeLog.HeadCallFailed(logger, "ReleaseActorName", e is RpcException rpc ? rpc.Status.Detail : e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _heartbeats.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }

        _channel?.Dispose();
        _stop.Dispose();
    }

    /// <summary>Ends a job's work here; a failure is logged, and neither stops the heartbeats nor the other jobs' ends.</summary>
    private void EndJob(string jobId)
    {
        try
        {
            JobEnded?.Invoke(jobId);
        }
        catch (Exception e)
        {
            NodeLog.JobEndFailed(logger, jobId, e);
        }
    }

    private void HandleJobDrivers(HeartbeatReply reply)
    {
        foreach (var id in reply.ForgetJobDrivers)
        {
            JobDrivers?.Forget(id);
        }

        foreach (var job in reply.StartJobDrivers)
        {
            JobDrivers?.Start(job);
        }

        foreach (var id in reply.StopJobDrivers)
        {
            JobDrivers?.Stop(id);
        }
    }

    /// <summary>Sends more of a job driver's output to the head: how much of it the head has.</summary>
    /// <exception cref="RpcException">The head refused it or could not be reached.</exception>
    public async Task<long> AppendJobLogAsync(AppendJobLogRequest request, CancellationToken ct) =>
        (await _client!.AppendJobLogAsync(request, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: ct).ConfigureAwait(false)).Received;

    private async Task HeartbeatLoopAsync(NodeInfo info, TimeSpan interval, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(interval, options.TimeProvider);
        while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
        {
            try
            {
                var heartbeat = new HeartbeatRequest { NodeId = options.NodeId };
                heartbeat.Available.Add(ledger.Snapshot());
                heartbeat.EndedJobs.AddRange(_endedJobs.Keys);
                heartbeat.EndedJobsCursor = _endedJobsCursor;
                heartbeat.EndedJobsEpoch = _endedJobsEpoch;
                heartbeat.DetachedActorJobs.AddRange(DetachedActorJobs());
                heartbeat.JobDrivers.AddRange(JobDrivers?.States() ?? []);
                var reply = await _client!.HeartbeatAsync(heartbeat, cancellationToken: ct).ConfigureAwait(false);
                foreach (var told in heartbeat.EndedJobs)
                {
                    _endedJobs.TryRemove(told, out _);
                }

                foreach (var ended in reply.EndedJobs)
                {
                    EndJob(ended);
                }

                // Moved on only once every ended job was handled.
                (_endedJobsCursor, _endedJobsEpoch) = (reply.EndedJobsCursor, reply.EndedJobsEpoch);
                HandleJobDrivers(reply);

                if (!reply.Known)
                {
                    await _client.RegisterNodeAsync(new RegisterNodeRequest { Node = info }, cancellationToken: ct).ConfigureAwait(false);
                }
            }
            catch (RpcException e)
            {
                NodeLog.HeadCallFailed(logger, "Heartbeat", e.Status.Detail);
            }
        }
    }
}
