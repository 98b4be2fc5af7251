using Grpc.Core;
using Terrarium.Protocol;

namespace Terrarium.Head.Internal;

/// <summary>The gRPC face of <see cref="HeadState"/>: validates requests and answers.</summary>
internal sealed class HeadService(HeadState state, PackageStore packages, HeadOptions options) : Protocol.Head.HeadBase
{
    public override Task<HasPackageReply> HasPackage(HasPackageRequest request, ServerCallContext context) =>
        Task.FromResult(new HasPackageReply { Present = packages.Has(request.Hash) });

    public override async Task<UploadPackageReply> UploadPackage(IAsyncStreamReader<PackageChunk> requestStream, ServerCallContext context) =>
        new() { Stored = await packages.ReceiveAsync(requestStream, context.CancellationToken).ConfigureAwait(false) };

    public override Task DownloadPackage(DownloadPackageRequest request, IServerStreamWriter<PackageChunk> responseStream, ServerCallContext context) =>
        packages.SendAsync(request.Hash, responseStream, context.CancellationToken);

    public override Task<ListPackagesReply> ListPackages(ListPackagesRequest request, ServerCallContext context)
    {
        var reply = new ListPackagesReply();
        reply.Packages.AddRange(packages.List());
        return Task.FromResult(reply);
    }

    public override Task<RegisterNodeReply> RegisterNode(RegisterNodeRequest request, ServerCallContext context)
    {
        if (request.Node is null || string.IsNullOrEmpty(request.Node.NodeId))
        {
            throw Invalid("RegisterNode needs node.node_id");
        }

        state.RegisterNode(request.Node);
        return Task.FromResult(new RegisterNodeReply { HeartbeatIntervalSeconds = options.HeartbeatInterval.TotalSeconds });
    }

    public override Task<HeartbeatReply> Heartbeat(HeartbeatRequest request, ServerCallContext context) =>
        Task.FromResult(new HeartbeatReply { Known = state.Heartbeat(request.NodeId, request.Available) });

    public override Task<ListNodesReply> ListNodes(ListNodesRequest request, ServerCallContext context)
    {
        var reply = new ListNodesReply();
        reply.Nodes.AddRange(state.ListNodes());
        return Task.FromResult(reply);
    }

    public override Task<RegisterJobReply> RegisterJob(RegisterJobRequest request, ServerCallContext context) =>
        Task.FromResult(new RegisterJobReply { JobId = state.RegisterJob(request.Driver, request.DefaultRuntimeEnv) });

    public override Task<FinishJobReply> FinishJob(FinishJobRequest request, ServerCallContext context)
    {
        state.FinishJob(request.JobId);
        return Task.FromResult(new FinishJobReply());
    }

    public override Task<RegisterActorNameReply> RegisterActorName(RegisterActorNameRequest request, ServerCallContext context)
    {
        if (string.IsNullOrWhiteSpace(request.Name) || string.IsNullOrEmpty(request.ActorId))
        {
            throw Invalid("RegisterActorName needs a name and an actor_id");
        }

        if (!state.TryRegisterActorName(request))
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists,
                $"an actor named '{request.Name}' already exists; pick another name or get it with GetActorAsync"));
        }

        return Task.FromResult(new RegisterActorNameReply());
    }

    public override Task<ReleaseActorNameReply> ReleaseActorName(ReleaseActorNameRequest request, ServerCallContext context)
    {
        state.ReleaseActorName(request.Name, request.ActorId);
        return Task.FromResult(new ReleaseActorNameReply());
    }

    public override Task<LookupActorReply> LookupActor(LookupActorRequest request, ServerCallContext context) =>
        Task.FromResult(state.LookupActor(request.Name));

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));
}
