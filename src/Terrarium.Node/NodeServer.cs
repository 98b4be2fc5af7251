using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Terrarium.Node.Actors;
using Terrarium.Node.Jobs;
using Terrarium.Node.Membership;
using Terrarium.Node.Objects;
using Terrarium.Node.Resources;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.RuntimeEnvs.Caching;
using Terrarium.Node.RuntimeEnvs.Conda;
using Terrarium.Node.RuntimeEnvs.Config;
using Terrarium.Node.RuntimeEnvs.Container;
using Terrarium.Node.RuntimeEnvs.EnvVars;
using Terrarium.Node.RuntimeEnvs.Modules;
using Terrarium.Node.RuntimeEnvs.NuGetPackages;
using Terrarium.Node.RuntimeEnvs.Pip;
using Terrarium.Node.RuntimeEnvs.WorkingDir;
using Terrarium.Node.Service;
using Terrarium.Node.Sessions;
using Terrarium.Node.Tasks;
using Terrarium.Node.Workers;
using Terrarium.Protocol;
using Terrarium.Protocol.LocalFiles;
using Terrarium.Protocol.SharedMemory;
using Terrarium.Protocol.Transport;

namespace Terrarium.Node;

/// <summary>A running node daemon, served over gRPC and registered with its head.</summary>
public sealed class NodeServer : IAsyncDisposable
{
    private readonly GrpcServer _server;

    private NodeServer(GrpcServer server, NodeOptions options)
    {
        _server = server;
        Options = options;
    }

    /// <summary>The node's settings.</summary>
    public NodeOptions Options { get; }

    /// <summary>Where the node listens (ephemeral ports resolved).</summary>
    public IReadOnlyList<Endpoint> Endpoints => _server.Endpoints;

    /// <summary>Starts a node and registers it with its head.</summary>
    public static async Task<NodeServer> StartAsync(NodeOptions options, ILoggerFactory loggerFactory, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        PrivateDirectory.Create(options.SessionDirectory);
        PrivateDirectory.Create(options.CacheDirectory);
        var credentials = await NodeCertificate.CredentialsAsync(options, ct).ConfigureAwait(false);
        var total = new Dictionary<string, double>(options.Resources) { [ResourceSet.Cpu] = options.NumCpus };
        var (shared, location) = SharedMemoryStore.Open(options.ObjectStoreRoot, options.NodeId, Path.Combine(options.CacheDirectory, "spilled"));
        if (shared is null && !string.IsNullOrEmpty(options.ObjectStoreRoot))
        {
            NodeLog.NoSharedMemoryStore(loggerFactory.CreateLogger<NodeServer>(), location);
        }

        var server = await GrpcServer.StartAsync(
            options.Endpoints, credentials, loggerFactory,
            services => services
                .AddSingleton(options)
                .AddSingleton(credentials)
                .AddSingleton(typeof(ILogger<>), typeof(Logger<>))
                .AddSingleton(new ResourceLedger(total))
                .AddSingleton(new ObjectStore(shared, location, Math.Min(options.ObjectStoreCapacity, shared?.Size ?? long.MaxValue)))
                .AddSingleton<ObjectCopier>()
                .AddSingleton<ObjectTransferServer>()
                .AddSingleton<LogRelay>()
                .AddSingleton<DetachedSessions>()
                .AddSingleton<WorkerPool>()
                .AddSingleton<IWorkerStarter>(services => services.GetRequiredService<WorkerPool>())
                .AddSingleton<PackageCache>()
                .AddSingleton<NuGetRestorer>()
                .AddSingleton<FetchedPackages>()
                .AddSingleton<ContainerCommand>()
                .AddSingleton<PulledImages>()
                .AddSingleton<JobEnds>()
                // One registration per runtime-env field; the build cache finds each by its JSON name.
                .AddSingleton<IFieldPreparer, CondaPreparer>()
                .AddSingleton<IFieldPreparer, ConfigPreparer>()
                .AddSingleton<IFieldPreparer, ContainerPreparer>()
                .AddSingleton<IFieldPreparer, EnvVarsPreparer>()
                .AddSingleton<IFieldPreparer, ModulesPreparer>()
                .AddSingleton<IFieldPreparer, NuGetPreparer>()
                .AddSingleton<IFieldPreparer, PipPreparer>()
                .AddSingleton<IFieldPreparer, WorkingDirPreparer>()
                .AddSingleton<EnvBuildCache>()
                .AddSingleton<IEnvUsers, NodeEnvUsers>()
                .AddSingleton<CacheCollector>()
                .AddSingleton<HeadLink>()
                .AddSingleton<JobDrivers>()
                .AddSingleton<TaskDispatcher>()
                .AddSingleton<ActorSupervisor>(),
            app => app.MapGrpcService<NodeService>(),
            ct: ct).ConfigureAwait(false);
        var node = new NodeServer(server, options);
        try
        {
            var advertised = server.Endpoints.FirstOrDefault(e => e.SocketPath is null) is { } tcp
                ? Endpoint.Tcp(options.AdvertisedHost ?? tcp.Host!, tcp.Port)
                : server.Endpoints[0];
            var transfers = server.Services.GetRequiredService<ObjectTransferServer>();
            transfers.Start(advertised.Host);
            var headLink = server.Services.GetRequiredService<HeadLink>();
            headLink.JobEnded += server.Services.GetRequiredService<JobEnds>().End;
            headLink.DetachedActorJobs = server.Services.GetRequiredService<ActorSupervisor>().JobsOfLiveDetachedActors;
            headLink.JobDrivers = server.Services.GetRequiredService<JobDrivers>();
            await headLink.StartAsync(new NodeInfo
            {
                NodeId = options.NodeId,
                Address = advertised.ToString(),
                ObjectSocket = transfers.Socket,
                ObjectAddress = transfers.Address,
                BootId = MachineIdentity.BootId,
            }, ct).ConfigureAwait(false);
            server.Services.GetRequiredService<WorkerPool>().Prestart();
            server.Services.GetRequiredService<CacheCollector>();
            NodeLog.NodeStarted(loggerFactory.CreateLogger<NodeServer>(), options.NodeId, string.Join(", ", server.Endpoints));
        }
        catch
        {
            await node.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return node;
    }

    /// <summary>Stops the node: its workers are killed and its sessions end.</summary>
    public async ValueTask DisposeAsync()
    {
        var services = _server.Services;
        await services.GetRequiredService<HeadLink>().DisposeAsync().ConfigureAwait(false);
        services.GetRequiredService<CacheCollector>().Dispose();
        services.GetRequiredService<TaskDispatcher>().Dispose();
        services.GetRequiredService<ActorSupervisor>().Dispose();
        services.GetRequiredService<DetachedSessions>().Dispose();
        await services.GetRequiredService<WorkerPool>().DisposeAsync().ConfigureAwait(false);
        var objects = services.GetRequiredService<ObjectStore>();
        await _server.DisposeAsync().ConfigureAwait(false);
        objects.Dispose();
    }
}
