using Microsoft.Extensions.Logging;
using Terrarium.Head;
using Terrarium.Node;
using Terrarium.Protocol.LocalFiles;
using Terrarium.Protocol.Transport;

namespace Terrarium.Embedded;

/// <summary>
/// A head and one node hosted inside the driver: the same components and gRPC contracts as a
/// multi-machine cluster, on Unix sockets in a private session directory.
/// </summary>
internal sealed class EmbeddedCluster : IAsyncDisposable
{
    private readonly SessionFolder _session;
    private readonly HeadServer _head;
    private readonly NodeServer _node;

    private EmbeddedCluster(SessionFolder session, string token, HeadServer head, NodeServer node)
    {
        _session = session;
        Token = token;
        _head = head;
        _node = node;
    }

    public string SessionDirectory => _session.Path;

    public string Token { get; }

    public Endpoint Head => _head.Endpoints[0];

    public static async Task<EmbeddedCluster> StartAsync(ClusterOptions options, ILoggerFactory loggerFactory, CancellationToken ct)
    {
        var session = SessionFolder.Create(options.RuntimeDirectory);
        var directory = session.Path;
        var token = options.Token ?? ClusterToken.NewToken();
        HeadServer? head = null;
        try
        {
            head = await HeadServer.StartAsync(new HeadOptions
            {
                Endpoints = [Endpoint.UnixSocket(Path.Combine(directory, "head.sock"))],
                Token = token,
                StorageDirectory = Path.Combine(directory, "head"),
                MaxPackageBytes = options.MaxPackageBytes,
            }, loggerFactory, ct).ConfigureAwait(false);
            var nodeOptions = new NodeOptions
            {
                Endpoints = [Endpoint.UnixSocket(Path.Combine(directory, "node.sock"))],
                Head = head.Endpoints[0],
                Token = token,
                NumCpus = options.NumCpus ?? Environment.ProcessorCount,
                Resources = options.Resources ?? new Dictionary<string, double>(),
                WorkerHost = new WorkerHostCommand(WorkerHostCommand.CurrentDotnet(), typeof(Cluster).Assembly.Location),
                SessionDirectory = directory,
                CacheDirectory = options.ResolveCacheDirectory(),
                CacheLimits = options.CacheLimits
                    ?? Node.RuntimeEnvs.Caching.CacheLimits.FromEnvironment(),
                NuGetConfigFile = options.NuGetConfigFile is { } config ? Path.GetFullPath(config) : null,
                ObjectStoreRoot = options.ObjectStoreRoot,
                ObjectStoreMemory = options.ObjectStoreMemory,
                IdleWorkerTimeout = options.IdleWorkerTimeout ?? TimeSpan.FromSeconds(30),
                FailedSetupRetryDelay = options.FailedSetupRetryDelay ?? TimeSpan.FromSeconds(30),
                PrestartWorkers = options.PrestartWorkers ?? 1,
                Containers = options.Containers ?? new ContainerRuntimeOptions(),
                Python = options.Python ?? new PythonOptions(),
            };
            var node = await NodeServer.StartAsync(nodeOptions, loggerFactory, ct).ConfigureAwait(false);
            return new EmbeddedCluster(session, token, head, node);
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
            await _head.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _session.Dispose();
        }
    }
}
