using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Terrarium.Head.Http;
using Terrarium.Head.Jobs;
using Terrarium.Head.Packages;
using Terrarium.Head.Service;
using Terrarium.Head.State;
using Terrarium.Protocol.LocalFiles;
using Terrarium.Protocol.Transport;

namespace Terrarium.Head;

/// <summary>A running head: the cluster's control plane, served over gRPC.</summary>
public sealed class HeadServer : IAsyncDisposable
{
    private readonly GrpcServer _server;
    private readonly HeadHttpServer? _http;
    private readonly IHeadStore _store;

    private HeadServer(GrpcServer server, HeadHttpServer? http, IHeadStore store)
    {
        _server = server;
        _http = http;
        _store = store;
    }

    /// <summary>Where the head listens (ephemeral ports resolved).</summary>
    public IReadOnlyList<Endpoint> Endpoints => _server.Endpoints;

    /// <summary>Where its HTTP API listens (port resolved); null when it serves none (<see cref="HeadOptions.HttpEndpoint"/>).</summary>
    public Endpoint? HttpEndpoint => _http?.Endpoint;

    /// <summary>Starts a head.</summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    /// <exception cref="InvalidOperationException">Its Redis cannot be reached, refuses its credentials, or takes writes from anyone.</exception>
    /// <exception cref="InvalidDataException">The state in its Redis is corrupt (the message names the key).</exception>
    /// <exception cref="IOException">It cannot listen where it was asked to.</exception>
    /// <exception cref="UnauthorizedAccessException">Its storage folder is not this user's private folder.</exception>
    public static async Task<HeadServer> StartAsync(HeadOptions options, ILoggerFactory loggerFactory, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        PrivateDirectory.Create(options.StorageDirectory,
            "Another user could read the code and data uploaded to the head there, or swap it; remove it or choose another --storage-dir.");
        IHeadStore store = options.Redis is { } redis
            ? await RedisHeadStore.ConnectAsync(redis, options.RedisKeyPrefix, options.AllowInsecureRedis).ConfigureAwait(false)
            : new MemoryOnly();
        try
        {
            var state = new HeadState(options);
            var stored = await store.LoadAsync().ConfigureAwait(false);
            state.Restore(stored);
            var packages = new PackageStore(options, state, store);
            packages.Restore(stored.JobPackages);
            var submissions = new JobSubmissions(options, state, store);
            submissions.Restore(stored);

            var server = await GrpcServer.StartAsync(
                options.Endpoints, options.Credentials, loggerFactory,
                services => services.AddSingleton(options).AddSingleton(state).AddSingleton(store).AddSingleton(packages).AddSingleton(submissions),
                app => app.MapGrpcService<HeadService>(),
                ct: ct).ConfigureAwait(false);
            HeadHttpServer? http = null;
            try
            {
                http = options.HttpEndpoint is null ? null : await HeadHttpServer.StartAsync(options, submissions, loggerFactory, ct).ConfigureAwait(false);
            }
            catch
            {
                await server.DisposeAsync().ConfigureAwait(false);
                throw;
            }

            return new HeadServer(server, http, store);
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_http is not null)
        {
            await _http.DisposeAsync().ConfigureAwait(false);
        }

        await _server.DisposeAsync().ConfigureAwait(false);
        await _store.DisposeAsync().ConfigureAwait(false);
    }
}
