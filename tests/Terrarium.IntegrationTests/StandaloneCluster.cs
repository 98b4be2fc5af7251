using Microsoft.Extensions.Logging.Abstractions;
using Terrarium.Head;
using Terrarium.Node;
using Terrarium.Protocol.LocalFiles;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.IntegrationTests;

/// <summary>
/// A head and a node started as a standalone cluster would run them, outside any driver: the head
/// and the node's client side on loopback TCP with TLS (a CA of the test's own, which signs the
/// head's certificate and, through the head, the node's), workers attached on the node's Unix socket.
/// </summary>
public sealed class StandaloneCluster : IAsyncDisposable
{
    public const string Token = "standalone-tests-token-0123456789";
    private readonly string _scratch;
    private readonly SessionFolder _session;

    private readonly ClusterCertificateAuthority _authority;
    private readonly List<(NodeServer Node, SessionFolder Session)> _moreNodes = [];
    private TimeSpan _sessionResumeGrace;
    private TimeSpan _idleWorkerTimeout;

    private StandaloneCluster(string scratch, SessionFolder session, ClusterCertificateAuthority authority, HeadServer head, NodeServer node)
    {
        _scratch = scratch;
        _session = session;
        _authority = authority;
        Head = head;
        Node = node;
    }

    /// <summary>What a client that trusts the cluster's CA holds.</summary>
    public ClusterCredentials Credentials => new(Token, ClusterTls.Trusting([_authority.Certificate]));

    public HeadServer Head { get; }

    public NodeServer Node { get; }

    public Endpoint NodeTcp => Node.Endpoints.Single(e => e.SocketPath is null);

    public ClusterOptions DriverOptions => new() { Address = Head.Endpoints[0].ToString(), Token = Token, CaHash = _authority.Hash, LogToDriver = false };

    public static async Task<StandaloneCluster> StartAsync(TimeSpan? sessionResumeGrace = null, TimeSpan? failedSetupRetryDelay = null, string? cacheDirectory = null,
        TimeSpan? idleWorkerTimeout = null)
    {
        var scratch = Directory.CreateTempSubdirectory("terrarium-standalone-").FullName;
        var session = SessionFolder.Create(Path.Combine(scratch, "runtime"));
        var authority = ClusterCertificateAuthority.CreateEphemeral();
        var trust = ClusterTls.Trusting([authority.Certificate]);
        var head = await HeadServer.StartAsync(new HeadOptions
        {
            Endpoints = [Endpoint.Tcp("127.0.0.1", 0)],
            Token = Token,
            Tls = trust.WithServerCertificate(authority.IssueWithNewKey("head", ["127.0.0.1"])),
            CertificateAuthority = authority,
            StorageDirectory = Path.Combine(session.Path, "head"),
        }, NullLoggerFactory.Instance).DefaultTimeout();
        var node = await NodeServer.StartAsync(new NodeOptions
        {
            Endpoints = [Endpoint.UnixSocket(Path.Combine(session.Path, "node.sock")), Endpoint.Tcp("127.0.0.1", 0)],
            Head = head.Endpoints[0],
            Token = Token,
            Tls = trust,
            NumCpus = 1,
            WorkerHost = new WorkerHostCommand(WorkerHostCommand.CurrentDotnet(), typeof(Cluster).Assembly.Location),
            SessionDirectory = session.Path,
            CacheDirectory = cacheDirectory ?? Path.Combine(scratch, "cache"),
            SessionResumeGrace = sessionResumeGrace ?? TimeSpan.FromSeconds(30),
            FailedSetupRetryDelay = failedSetupRetryDelay ?? TimeSpan.FromSeconds(30),
            IdleWorkerTimeout = idleWorkerTimeout ?? TimeSpan.FromSeconds(30),
        }, NullLoggerFactory.Instance).DefaultTimeout();
        return new StandaloneCluster(scratch, session, authority, head, node)
        {
            _sessionResumeGrace = sessionResumeGrace ?? TimeSpan.FromSeconds(30),
            _idleWorkerTimeout = idleWorkerTimeout ?? TimeSpan.FromSeconds(30),
        };
    }

    /// <summary>Another node of the cluster, with <paramref name="numCpus"/> and <paramref name="resources"/>, logging to <paramref name="loggers"/>.</summary>
    public async Task<NodeServer> AddNodeAsync(Dictionary<string, double> resources, Microsoft.Extensions.Logging.ILoggerFactory loggers, double numCpus = 1)
    {
        var session = SessionFolder.Create(Path.Combine(_scratch, "runtime-" + _moreNodes.Count));
        var node = await NodeServer.StartAsync(new NodeOptions
        {
            Endpoints = [Endpoint.UnixSocket(Path.Combine(session.Path, "node.sock")), Endpoint.Tcp("127.0.0.1", 0)],
            Head = Head.Endpoints[0],
            Token = Token,
            Tls = ClusterTls.Trusting([_authority.Certificate]),
            NumCpus = numCpus,
            Resources = resources,
            WorkerHost = new WorkerHostCommand(WorkerHostCommand.CurrentDotnet(), typeof(Cluster).Assembly.Location),
            SessionDirectory = session.Path,
            CacheDirectory = Path.Combine(_scratch, "cache-" + _moreNodes.Count),
            SessionResumeGrace = _sessionResumeGrace,
            IdleWorkerTimeout = _idleWorkerTimeout,
        }, loggers).DefaultTimeout();
        _moreNodes.Add((node, session));
        return node;
    }

    /// <summary>A raw gRPC client of the node, over TCP, as any program holding the token could write.</summary>
    public (IDisposable Channel, Protocol.Node.NodeClient Client) RawNodeClient()
    {
        var (channel, invoker) = ClusterChannel.Open(NodeTcp, Credentials);
        return (channel, new Protocol.Node.NodeClient(invoker));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (node, session) in _moreNodes)
        {
            await node.DisposeAsync();
            session.Dispose();
        }

        await Node.DisposeAsync();
        await Head.DisposeAsync();
        _session.Dispose();
        _authority.Dispose();
        Directory.Delete(_scratch, recursive: true);
    }
}
