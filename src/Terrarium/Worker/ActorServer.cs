using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Terrarium.Protocol.Hosting;

namespace Terrarium.Worker;

/// <summary>
/// The gRPC server of an actor's worker: callers find its address through the node and send their
/// calls here directly. Started once the actor's constructor has run.
/// </summary>
internal sealed class ActorServer
{
    private readonly ConcurrentDictionary<CallerStream, bool> _callers = new();
    private GrpcServer? _server;
    private volatile bool _closing;

    private ActorServer(string actorId, WorkQueue work)
    {
        ActorId = actorId;
        Work = work;
    }

    public string ActorId { get; }

    public WorkQueue Work { get; }

    /// <summary>Where callers reach the actor, with an ephemeral TCP port resolved.</summary>
    public string Address => _server!.Endpoints[0].ToString();

    public static async Task<ActorServer> StartAsync(string actorId, string listenAddress, string token, WorkQueue work, CancellationToken ct)
    {
        var actorServer = new ActorServer(actorId, work);
        actorServer._server = await GrpcServer.StartAsync(
            [Endpoint.Parse(listenAddress)], token, NullLoggerFactory.Instance,
            services => services.AddSingleton(actorServer),
            app => app.MapGrpcService<ActorCallService>(),
            ct).ConfigureAwait(false);
        return actorServer;
    }

    public bool TryAdd(CallerStream caller)
    {
        _callers[caller] = true;
        if (_closing)
        {
            _callers.TryRemove(caller, out _);
            return false;
        }

        return true;
    }

    public void Remove(CallerStream caller) => _callers.TryRemove(caller, out _);

    /// <summary>
    /// The process is exiting (user code called Environment.Exit, or the node ended the worker):
    /// results already produced must still reach their callers, so every stream writes what it
    /// has and ends, and the server closes its connections gracefully, all within the deadline.
    /// </summary>
    public void CloseBeforeExit(Task deadline)
    {
        _closing = true;
        var callers = _callers.Keys.ToList();
        foreach (var caller in callers)
        {
            caller.Close();
        }

        Task.WhenAny(Task.WhenAll(callers.Select(c => c.Flushed)), deadline).Wait();
        if (_server is { } server)
        {
            Task.WhenAny(server.DisposeAsync().AsTask(), deadline).Wait();
        }
    }
}
