using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Terrarium.Protocol;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Worker;

/// <summary>
/// The gRPC server of an actor's worker: callers find its address through the node and send their
/// calls here directly. Started once the actor's constructor has run.
/// </summary>
internal sealed class ActorServer
{
    private readonly ConcurrentDictionary<CallerStream, bool> _callers = new();
    private readonly SemaphoreSlim _turn = new(1, 1);
    private readonly Func<ActorCall, Task<WorkDone>> _run;
    private readonly Action<string> _cancel;
    private GrpcServer? _server;
    private volatile bool _closing;

    private ActorServer(string actorId, Func<ActorCall, Task<WorkDone>> run, Action<string> cancel)
    {
        ActorId = actorId;
        _run = run;
        _cancel = cancel;
    }

    public string ActorId { get; }

    /// <summary>Where callers reach the actor, with an ephemeral TCP port resolved.</summary>
    public string Address => _server!.Endpoints[0].ToString();

    /// <param name="actorId">The actor callers must name.</param>
    /// <param name="listenAddress">Where to listen.</param>
    /// <param name="credentials">The cluster token callers must present, and the certificate a TCP address serves with.</param>
    /// <param name="run">Runs one call of the actor.</param>
    /// <param name="cancel">Cancels a call by id, running or not started yet.</param>
    /// <param name="ct">Cancels the start.</param>
    public static async Task<ActorServer> StartAsync(
        string actorId, string listenAddress, ClusterCredentials credentials, Func<ActorCall, Task<WorkDone>> run, Action<string> cancel, CancellationToken ct)
    {
        var actorServer = new ActorServer(actorId, run, cancel);
        actorServer._server = await GrpcServer.StartAsync(
            [Endpoint.Parse(listenAddress, anyPort: true)], credentials, NullLoggerFactory.Instance,
            services => services.AddSingleton(actorServer),
            app => app.MapGrpcService<ActorCallService>(),
            ct: ct).ConfigureAwait(false);
        return actorServer;
    }

    /// <summary>Runs a call once no other call of the actor is running: calls of many callers take turns.</summary>
    public async Task<WorkDone> RunAsync(ActorCall call)
    {
        await _turn.WaitAsync().ConfigureAwait(false);
        try
        {
            return await _run(call).ConfigureAwait(false);
        }
        finally
        {
            _turn.Release();
        }
    }

    public void Cancel(string callId) => _cancel(callId);

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
    /// Ends every caller's stream once it has written what it has, then stops the server gracefully,
    /// within the deadline. Used when the process exits (user code called Environment.Exit, or the
    /// node ended the worker): results already produced must still reach their callers.
    /// </summary>
    public void CloseWithin(Task deadline)
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
