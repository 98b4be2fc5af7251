using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Terrarium.Head.Internal;
using Terrarium.Protocol.Hosting;

namespace Terrarium.Head;

/// <summary>A running head: the cluster's control plane, served over gRPC.</summary>
public sealed class HeadServer : IAsyncDisposable
{
    private readonly GrpcServer _server;

    private HeadServer(GrpcServer server) => _server = server;

    /// <summary>Where the head listens (ephemeral ports resolved).</summary>
    public IReadOnlyList<Endpoint> Endpoints => _server.Endpoints;

    /// <summary>Starts a head.</summary>
    public static async Task<HeadServer> StartAsync(HeadOptions options, ILoggerFactory loggerFactory, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var server = await GrpcServer.StartAsync(
            options.Endpoints, options.Token, loggerFactory,
            services => services.AddSingleton(options).AddSingleton<HeadState>().AddSingleton<PackageStore>(),
            app => app.MapGrpcService<HeadService>(),
            ct).ConfigureAwait(false);
        return new HeadServer(server);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
