using System.Globalization;
using Microsoft.Extensions.Logging;
using Terrarium.Head;
using Terrarium.Node;
using Terrarium.Protocol.LocalFiles;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Cli;

/// <summary>
/// A head (with a node of its own) or a node, served by this process until it is disposed. Its
/// session folder holds the node's worker socket and logs, and the <see cref="DaemonRecord"/> by
/// which other commands on this machine find it.
/// </summary>
internal sealed class ClusterDaemon : IAsyncDisposable
{
    private readonly SessionFolder _session;
    private readonly HeadServer? _head;
    private readonly NodeServer _node;

    private ClusterDaemon(SessionFolder session, HeadServer? head, NodeServer node, string headAddress, ClusterTls tls)
    {
        _session = session;
        _head = head;
        _node = node;
        HeadAddress = headAddress;
        Tls = tls;
    }

    public string HeadAddress { get; }

    /// <summary>How clients check this cluster's servers (no key).</summary>
    public ClusterTls Tls { get; }

    public string NodeId => _node.Options.NodeId;

    /// <summary>Where the head's HTTP API listens; null on a node, or with --dashboard-port none.</summary>
    public Protocol.Transport.Endpoint? HttpEndpoint => _head?.HttpEndpoint;

    public static async Task<ClusterDaemon> StartAsync(StartSettings settings, string token, string logFile, ILoggerFactory loggerFactory, CancellationToken ct)
    {
        var session = SessionFolder.Create();
        HeadServer? head = null;
        try
        {
            Endpoint headAddress;
            ClusterTls tls;
            if (settings.IsHead)
            {
                (head, tls) = await StartHeadAsync(settings, token, session.Path, loggerFactory, ct).ConfigureAwait(false);
                headAddress = Endpoint.Tcp(settings.AdvertisedHost, head.Endpoints[0].Port);
            }
            else
            {
                headAddress = settings.HeadAddress!;
                tls = await settings.Tls.ForNodeAsync(headAddress, ct).ConfigureAwait(false);
            }

            // The head's own node reaches it on this machine: loopback when it listens on every interface.
            var nodeToHead = head is null ? headAddress
                : settings.IsWildcard ? Endpoint.Tcp("127.0.0.1", head.Endpoints[0].Port)
                : head.Endpoints[0];
            var node = await StartNodeAsync(settings, token, tls, session.Path, nodeToHead, loggerFactory, ct).ConfigureAwait(false);
            var daemon = new ClusterDaemon(session, head, node, headAddress.ToString(), tls.TrustOnly());
            new DaemonRecord
            {
                Role = settings.IsHead ? "head" : "node",
                Pid = Environment.ProcessId,
                HeadAddress = daemon.HeadAddress,
                NodeId = node.Options.NodeId,
                Token = token,
                Tls = daemon.Tls.ToLine(),
                LogFile = logFile,
            }.Write(session.Path);
            return daemon;
        }
        catch
        {
            if (head is not null)
            {
                await head.DisposeAsync().ConfigureAwait(false);
            }

            session.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _node.DisposeAsync().ConfigureAwait(false);
            if (_head is not null)
            {
                await _head.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _session.Dispose();
        }
    }

    private static async Task<(HeadServer Head, ClusterTls Tls)> StartHeadAsync(StartSettings settings, string token, string sessionPath, ILoggerFactory loggerFactory, CancellationToken ct)
    {
        var (tls, authority) = settings.Tls.ForHead([settings.Host, settings.AdvertisedHost, "127.0.0.1", "localhost"]);
        try
        {
            return (await HeadServer.StartAsync(new HeadOptions
            {
                Endpoints = [Endpoint.Tcp(settings.Host, settings.Port)],
                Token = token,
                Tls = tls,
                CertificateAuthority = authority,
                AllowInsecureRedis = settings.RedisInsecure,
                StorageDirectory = settings.StorageDirectory ?? Path.Combine(sessionPath, "head"),
                NodeDeathTimeout = settings.NodeDeathTimeout,
                Redis = settings.Redis,
                PackageStoreLimit = settings.PackageStoreLimit,
                PackageProtection = settings.PackageProtection,
                JobLogLimit = settings.JobLogLimit,
                HttpEndpoint = settings.HttpEndpoint,
            }, loggerFactory, ct).ConfigureAwait(false), tls);
        }
        catch (InvalidDataException e)
        {
            throw new UserError(e.Message);
        }
        catch (IOException e)
        {
            throw new UserError($"the head cannot listen on {settings.Host}:{settings.Port.ToString(CultureInfo.InvariantCulture)}: {e.Message} (choose another --port, or stop what uses it)");
        }
    }

    private static async Task<NodeServer> StartNodeAsync(StartSettings settings, string token, ClusterTls tls, string sessionPath, Endpoint head,
        ILoggerFactory loggerFactory, CancellationToken ct)
    {
        var options = new NodeOptions
        {
            Endpoints = [Endpoint.UnixSocket(Path.Combine(sessionPath, "node.sock")), Endpoint.Tcp(settings.Host, 0)],
            AdvertisedHost = settings.AdvertisedHost,
            Head = head,
            Token = token,
            // The head's own node serves with the head's certificate; a joining node asks the head for one.
            Tls = tls,
            NumCpus = settings.NumCpus,
            Resources = settings.Resources,
            WorkerHost = new WorkerHostCommand(WorkerHostCommand.CurrentDotnet(), typeof(Cluster).Assembly.Location),
            SessionDirectory = sessionPath,
            CacheDirectory = settings.CacheDirectory is { } cache ? Path.GetFullPath(cache) : UserFolders.Cache(),
            // A node without CPUs (a head that runs no work) has no use for a worker started ahead.
            PrestartWorkers = settings.NumCpus > 0 ? 1 : 0,
            NuGetConfigFile = settings.NuGetConfigFile,
            ObjectStoreRoot = settings.ObjectStoreRoot,
            ObjectStoreMemory = settings.ObjectStoreMemory,
            CacheLimits = settings.CacheLimits,
            FailedSetupRetryDelay = settings.FailedSetupRetryDelay,
            Containers = settings.Containers,
            Python = settings.Python,
        };
        try
        {
            return await NodeServer.StartAsync(options, loggerFactory, ct).ConfigureAwait(false);
        }
        catch (Grpc.Core.RpcException e) when (e.StatusCode == Grpc.Core.StatusCode.Unauthenticated)
        {
            throw new UserError($"the head at {head} refused this node's token: pass the cluster's token with --token or {ClusterToken.EnvironmentVariable}");
        }
        catch (Grpc.Core.RpcException e)
        {
            throw new UserError($"cannot reach the head at {head}: {e.Status.Detail}{TlsFailure.Hint(e)}");
        }
    }
}
