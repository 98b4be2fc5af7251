using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Terrarium.Embedded;
using Terrarium.Logging;
using Terrarium.Packaging;
using Terrarium.Placement;
using Terrarium.Protocol;
using Terrarium.Protocol.Jobs;
using Terrarium.Protocol.LocalFiles;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;
using Terrarium.Serialization;
using Terrarium.Sessions;

namespace Terrarium;

/// <summary>
/// A connection to a Terrarium cluster, through which a driver (or a task or actor) submits tasks and
/// creates actors. <see cref="InitAsync"/> with no address starts an embedded cluster inside this
/// process; disposing the cluster ends the job and stops its workers.
/// </summary>
public sealed partial class Cluster : IAsyncDisposable
{
    private static readonly object s_currentGate = new();
    private static Cluster? s_current;
    private static Func<Cluster>? s_workerClusterFactory;

    // The session with this process's own node; _nodes has it and the sessions with other nodes.
    private readonly Session _session;
    private readonly NodeRouter _nodes;
    private readonly GrpcChannel _headChannel;
    private readonly Protocol.Head.HeadClient _head;
    private readonly EmbeddedCluster? _embedded;
    private readonly RuntimeEnv? _baseEnvSpec;
    private ResolvedEnv? _baseEnv;
    private readonly EnvPackager _envPackager;
    private readonly ClusterLogPrinter? _printer;
    private readonly ClusterCredentials _credentials;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private int _disposed;

    // The live display of env setups on a terminal, if shown: stopped (and left whole) on disposal.
    private EnvSetupProgressDisplay? _setupDisplay;

    // A driver's cluster, which ends its job when disposed; a worker's (Cluster.Current in a task) does not.
    private bool _ownsJob;

    private Cluster(Session session, GrpcChannel headChannel, CallInvoker head, string headAddress, ClusterCredentials credentials, string jobId, RuntimeEnv? baseEnv,
        IReadOnlyList<NodeState> nodes, EmbeddedCluster? embedded, ClusterLogPrinter? printer, ClusterOptions options, ILoggerFactory loggerFactory)
    {
        _session = session;
        _session.ValueOptions = Serializer.BoundTo(this);
        _headChannel = headChannel;
        _head = new Protocol.Head.HeadClient(head);
        _clock = options.TimeProvider;
        _nodes = new NodeRouter(session, _head, nodes, new LineageBudget(options.MaxLineageBytes), _clock);
        _embedded = embedded;
        _baseEnvSpec = baseEnv;
        _logger = loggerFactory.CreateLogger<Cluster>();
        var packagingLogger = loggerFactory.CreateLogger<EnvPackager>();
        _envPackager = new EnvPackager(new DirectoryPackager(options.MaxPackageBytes, packagingLogger), new PackageUploader(_head, jobId, packagingLogger));
        _printer = printer;
        _credentials = credentials;
        Address = headAddress;
        JobId = jobId;
        DriverContext = new RuntimeContext(jobId, session.NodeId, null, null, baseEnv);
    }

    /// <summary>
    /// The ambient cluster: inside a task or actor, the one to submit nested work to (children
    /// inherit the worker's runtime env); in a driver, the cluster initialised last.
    /// </summary>
    /// <exception cref="InvalidOperationException">No cluster has been initialised in this process.</exception>
    public static Cluster Current
    {
        get
        {
            lock (s_currentGate)
            {
                if (s_current is null && s_workerClusterFactory is { } factory)
                {
                    s_current = factory();
                }

                return s_current ?? throw new InvalidOperationException(
                    "there is no current cluster: call Cluster.InitAsync() first (inside a task or actor, Cluster.Current is set for you)");
            }
        }
    }

    /// <summary>
    /// The head's address: other drivers join this cluster with it (and its token) as
    /// <see cref="ClusterOptions.Address"/>. For an embedded cluster, a Unix socket on this machine.
    /// </summary>
    public string Address { get; }

    /// <summary>The id of this cluster connection's job.</summary>
    public string JobId { get; }

    /// <summary>The node this connection submits to.</summary>
    public string NodeId => _session.NodeId;

    internal RuntimeContext DriverContext { get; }

    /// <summary>
    /// Starts an embedded cluster (no address) or joins a running one, and registers a job.
    /// </summary>
    /// <exception cref="ArgumentException">The options are invalid (the message names the option).</exception>
    /// <exception cref="InvalidOperationException">The cluster could not be reached or has no live node.</exception>
    public static async Task<Cluster> InitAsync(ClusterOptions? options = null, CancellationToken ct = default)
    {
        options ??= new ClusterOptions();
        options.Validate();
        var loggerFactory = options.LoggerFactory ?? DefaultLoggerFactory.Instance;
        var address = options.Address ?? Environment.GetEnvironmentVariable(ClusterOptions.AddressEnvironmentVariable);
        EmbeddedCluster? embedded = null;
        Endpoint headEndpoint;
        ClusterCredentials credentials;
        if (string.IsNullOrWhiteSpace(address))
        {
            embedded = await EmbeddedCluster.StartAsync(options, loggerFactory, ct).ConfigureAwait(false);
            headEndpoint = embedded.Head;
            credentials = ClusterCredentials.UnixOnly(embedded.Token);
        }
        else
        {
            string? localToken = null;
            if (address == "auto")
            {
                (address, localToken) = FindLocalHead();
            }

            try
            {
                headEndpoint = Endpoint.Parse(address);
            }
            catch (FormatException e)
            {
                throw new ArgumentException(e.Message, nameof(options), e);
            }

            var token = options.Token ?? Environment.GetEnvironmentVariable(ClusterToken.EnvironmentVariable) ?? localToken
                ?? throw new ArgumentException(
                    $"joining the cluster at {address} needs its token: set {nameof(ClusterOptions.Token)} or {ClusterToken.EnvironmentVariable}", nameof(options));
            credentials = new ClusterCredentials(token, await TrustAsync(headEndpoint, options, ct).ConfigureAwait(false));
        }

        try
        {
            var cluster = await ConnectAsync(headEndpoint, credentials, options, loggerFactory, embedded, ct).ConfigureAwait(false);
            lock (s_currentGate)
            {
                s_current = cluster;
            }

            return cluster;
        }
        catch
        {
            if (embedded is not null)
            {
                await embedded.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>Ends the job: its workers and actors stop, and an embedded cluster shuts down.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        lock (s_currentGate)
        {
            if (s_current == this)
            {
                s_current = null;
            }
        }

        await _nodes.DisposeAsync().ConfigureAwait(false);
        if (_setupDisplay is not null)
        {
            await _setupDisplay.StopAsync().ConfigureAwait(false);
        }

        if (_ownsJob)
        {
            await FinishJobQuietlyAsync(_head, JobId).ConfigureAwait(false);
        }

        _headChannel.Dispose();
        if (_embedded is not null)
        {
            await _embedded.DisposeAsync().ConfigureAwait(false);
        }

        _printer?.Dispose();
    }

    private static async Task FinishJobQuietlyAsync(Protocol.Head.HeadClient head, string jobId)
    {
        try
        {
            await head.FinishJobAsync(new FinishJobRequest { JobId = jobId }, deadline: DateTime.UtcNow.AddSeconds(5)).ConfigureAwait(false);
        }
        catch (RpcException)
        {
            // The head is gone: nothing left to tell it.
        }
    }

    /// <summary>Makes <see cref="Current"/> in a worker connect on first use.</summary>
    internal static void SetWorkerClusterFactory(Func<Cluster> factory) => s_workerClusterFactory = factory;

    /// <summary>
    /// In a worker: completes once the nodes have handled what its work asked of the cluster so far
    /// (at once when it asked nothing). A result is sent after that, so that a caller given, say, the
    /// handle of an actor the task created finds the actor on its node, not a request still on its way.
    /// </summary>
    internal static Task WorkerRequestsHandledAsync()
    {
        Cluster? worker;
        lock (s_currentGate)
        {
            worker = s_workerClusterFactory is null ? null : s_current;
        }

        return worker is null ? Task.CompletedTask : Task.WhenAll(worker._nodes.Sessions.Select(s => s.AllHandledAsync()));
    }

    /// <summary>A worker's own connection: its nested submissions inherit <paramref name="workerEnv"/>.</summary>
    internal static async Task<Cluster> ConnectWorkerAsync(Endpoint node, Endpoint head, ClusterCredentials credentials, string jobId, string jobCodeDir,
        string jobCodeUri, string workerId, RuntimeEnv? workerEnv, CancellationToken ct)
    {
        // The worker's certificate is its actor server's; as a client it only needs the trust.
        credentials = credentials with { Tls = credentials.Tls.TrustOnly() };
        var (headChannel, headInvoker) = ClusterChannel.Open(head, credentials);
        var nodes = await NodeRouter.ListNodesAsync(new Protocol.Head.HeadClient(headInvoker), ct).ConfigureAwait(false);
        var session = await Session.OpenAsync(node, credentials,
            new OpenSession { JobId = jobId, JobCodeDir = jobCodeDir, JobCodeUri = jobCodeUri, WorkerId = workerId }, null, TimeProvider.System, ct).ConfigureAwait(false);
        return new Cluster(session, headChannel, headInvoker, head.ToString(), credentials, jobId, workerEnv, nodes, null, null, new ClusterOptions(), DefaultLoggerFactory.Instance);
    }

    private static async Task<Cluster> ConnectAsync(Endpoint headEndpoint, ClusterCredentials credentials, ClusterOptions options, ILoggerFactory loggerFactory, EmbeddedCluster? embedded, CancellationToken ct)
    {
        var (headChannel, headInvoker) = ClusterChannel.Open(headEndpoint, credentials);
        try
        {
            var head = new Protocol.Head.HeadClient(headInvoker);
            // A driver started for a submitted job gets the job's runtime env unless it gives its own.
            var jobEnv = options.Job?.RuntimeEnv ?? (embedded is null ? SubmittedJob.RuntimeEnv : null);
            var nodes = await head.ListNodesAsync(new ListNodesRequest(), cancellationToken: ct).ConfigureAwait(false);
            var node = nodes.Nodes.Where(n => n.Alive).OrderBy(n => Endpoint.Parse(n.Node.Address).IsLoopback ? 0 : 1).FirstOrDefault()
                ?? throw new InvalidOperationException($"the cluster at {headEndpoint} has no live node to run work on");
            var job = await head.RegisterJobAsync(new RegisterJobRequest
            {
                Driver = $"{Environment.MachineName} pid {Environment.ProcessId}",
                DefaultRuntimeEnv = jobEnv?.ToJson() ?? "",
                SubmissionId = embedded is null ? SubmittedJob.SubmissionId : "",
            }, cancellationToken: ct).ConfigureAwait(false);

            Session? session = null;
            try
            {
                var printer = options.LogToDriver ? new ClusterLogPrinter() : null;
                var setupDisplay = EnvSetupProgressDisplay.Create(options.ShowSetupProgress);
                var shipCode = options.ShipJobCode ?? nodes.Nodes.Any(n => n.Alive && !Endpoint.Parse(n.Node.Address).IsLoopback);
                session = await Session.OpenAsync(Endpoint.Parse(node.Node.Address), credentials, new OpenSession
                {
                    JobId = job.JobId,
                    JobCodeDir = AppContext.BaseDirectory,
                    JobCodeUri = shipCode ? await ShipJobCodeAsync(head, job.JobId, options.MaxPackageBytes, loggerFactory.CreateLogger<EnvPackager>(), ct).ConfigureAwait(false) : "",
                    SubscribeLogs = options.LogToDriver,
                    JobHome = true,
                }, new SessionListeners(printer is null ? null : printer.Print, new EnvSetupReporter(loggerFactory.CreateLogger<EnvSetupReporter>(), setupDisplay).Report),
                    options.TimeProvider, ct).ConfigureAwait(false);
                var cluster = new Cluster(session, headChannel, headInvoker, headEndpoint.ToString(), credentials, job.JobId, jobEnv, nodes.Nodes, embedded, printer, options, loggerFactory)
                {
                    _setupDisplay = setupDisplay,
                    _ownsJob = true,
                };
                // Package and check the job's local paths now, so that a bad one fails InitAsync.
                var resolvedJobEnv = cluster.Resolve(null, $"{nameof(options)}.{nameof(ClusterOptions.Job)}.{nameof(JobConfig.RuntimeEnv)}");
                if (jobEnv is not null && (jobEnv.Config?.EagerInstall ?? true))
                {
                    cluster._nodes.PrepareEverywhere(resolvedJobEnv);
                }

                return cluster;
            }
            catch
            {
                if (session is not null)
                {
                    await session.DisposeAsync().ConfigureAwait(false);
                }

                // What the job left at the head (its uploads' uses) goes with it.
                await FinishJobQuietlyAsync(head, job.JobId).ConfigureAwait(false);
                throw;
            }
        }
        catch (RpcException e)
        {
            headChannel.Dispose();
            throw new InvalidOperationException($"could not reach the cluster at {headEndpoint}: {e.Status.Detail}{TlsFailure.Hint(e)}", e);
        }
        catch
        {
            headChannel.Dispose();
            throw;
        }
    }

    /// <summary>How this driver checks the servers of the cluster whose head is at <paramref name="head"/> (see <see cref="ClusterTrust"/>).</summary>
    private static async Task<ClusterTls> TrustAsync(Endpoint head, ClusterOptions options, CancellationToken ct)
    {
        try
        {
            return await ClusterTrust.ResolveAsync(head, options.CaHash, options.Insecure, ct).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException(e.Message, nameof(options), e);
        }
        catch (RpcException e)
        {
            throw new InvalidOperationException($"could not learn the CA of the cluster at {head}: {e.Status.Detail}{TlsFailure.Hint(e)}", e);
        }
    }

    /// <summary>Packages this program's folder and uploads it (unless the head has it): its <c>pkg://</c> URI.</summary>
    private static async Task<string> ShipJobCodeAsync(Protocol.Head.HeadClient head, string jobId, long maxPackageBytes, ILogger logger, CancellationToken ct)
    {
        var package = new DirectoryPackager(maxPackageBytes, logger).PackDirectory(AppContext.BaseDirectory, [], "the job's code");
        await new PackageUploader(head, jobId, logger).EnsureUploadedAsync(package, ct).ConfigureAwait(false);
        return package.Uri;
    }

    /// <summary>The head this user started on this machine with <c>terrarium start --head</c>, for <c>Address = "auto"</c>.</summary>
    private static (string Address, string Token) FindLocalHead()
    {
        var head = DaemonRecord.FindLive().FirstOrDefault(d => d.Role == "head")
            ?? throw new InvalidOperationException(
                "Address = \"auto\" found no cluster head started by this user on this machine: start one with `terrarium start --head`, or give its address");
        return (head.HeadAddress, head.Token);
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed != 0, this);

    private static class DefaultLoggerFactory
    {
        public static readonly ILoggerFactory Instance = Microsoft.Extensions.Logging.LoggerFactory.Create(builder => builder
            .SetMinimumLevel(LogLevel.Warning)
            // Uploads of large packages show their progress.
            .AddFilter(typeof(EnvPackager).FullName, LogLevel.Information)
            // A library's messages go to standard error, out of the program's own output.
            .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
            .AddSimpleConsole(o => o.SingleLine = true));
    }
}
