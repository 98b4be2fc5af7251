using System.Threading.Channels;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Terrarium.Protocol;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;
using Terrarium.Sessions;

namespace Terrarium.Tests.Client.Actors;

/// <summary>
/// A node that only opens sessions and answers where actors are, as the test says, served over
/// real gRPC on a Unix socket: the client's real <see cref="Session"/> talks to it.
/// </summary>
internal sealed class ScriptedNode : IAsyncDisposable
{
    public const string Token = "test-token";
    public static readonly ClusterCredentials Credentials = ClusterCredentials.UnixOnly(Token);
    private readonly GrpcServer _server;

    private ScriptedNode(GrpcServer server, Service service)
    {
        _server = server;
        Locates = service.Locates;
        Answers = service.Answers;
    }

    public Endpoint Address => _server.Endpoints[0];

    /// <summary>The LocateActor requests sessions sent, in order.</summary>
    public ChannelReader<LocateActor> Locates { get; }

    /// <summary>Where the test writes the locations the node sends back.</summary>
    public ChannelWriter<ActorLocation> Answers { get; }

    public static async Task<ScriptedNode> StartAsync()
    {
        var socket = Path.Combine(Path.GetTempPath(), $"n-{Guid.NewGuid():N}"[..14] + ".sock");
        var service = new Service();
        var server = await GrpcServer.StartAsync([Endpoint.UnixSocket(socket)], Credentials, NullLoggerFactory.Instance,
            services => services.AddSingleton(service), app => app.MapGrpcService<Service>());
        return new ScriptedNode(server, service);
    }

    /// <summary>A real client session with this node.</summary>
    public Task<Session> OpenSessionAsync() =>
        Session.OpenAsync(Address, Credentials, new OpenSession { JobId = "job" }, null, TimeProvider.System, CancellationToken.None);

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private sealed class Service : global::Terrarium.Protocol.Node.NodeBase
    {
        private readonly Channel<LocateActor> _locates = Channel.CreateUnbounded<LocateActor>();
        private readonly Channel<ActorLocation> _answers = Channel.CreateUnbounded<ActorLocation>();

        public ChannelReader<LocateActor> Locates => _locates.Reader;

        public ChannelWriter<ActorLocation> Answers => _answers.Writer;

        public override async Task Session(IAsyncStreamReader<ClientBatch> requestStream, IServerStreamWriter<SessionBatch> responseStream, ServerCallContext context)
        {
            var writing = new SemaphoreSlim(1, 1);
            async Task SendAsync(SessionEvent e)
            {
                await writing.WaitAsync();
                try
                {
                    await responseStream.WriteAsync(new SessionBatch { Events = { e } });
                }
                finally
                {
                    writing.Release();
                }
            }

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
            var answering = Task.Run(async () =>
            {
                await foreach (var answer in _answers.Reader.ReadAllAsync(stop.Token))
                {
                    await SendAsync(new SessionEvent { ActorLocation = answer });
                }
            });
            try
            {
                await foreach (var batch in requestStream.ReadAllAsync(context.CancellationToken))
                {
                    foreach (var request in batch.Requests)
                    {
                        if (request.Open is not null)
                        {
                            await SendAsync(new SessionEvent { Opened = new SessionOpened { NodeId = "node-scripted", SessionId = "s1" } });
                        }
                        else if (request.LocateActor is { } locate)
                        {
                            await _locates.Writer.WriteAsync(locate);
                        }
                    }
                }
            }
            finally
            {
                await stop.CancelAsync();
                await answering.ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }
}
