using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
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
    private readonly IHeadStore _store;

    private HeadServer(GrpcServer server, IHeadStore store)
    {
        _server = server;
        _store = store;
    }

    /// <summary>Where the head listens (ephemeral ports resolved).</summary>
    public IReadOnlyList<Endpoint> Endpoints => _server.Endpoints;

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
            return new HeadServer(server, store);
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
        await _server.DisposeAsync().ConfigureAwait(false);
        await _store.DisposeAsync().ConfigureAwait(false);
    }
}
