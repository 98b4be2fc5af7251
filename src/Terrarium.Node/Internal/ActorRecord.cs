using Google.Protobuf;
using Terrarium.Protocol;

namespace Terrarium.Node.Internal;

internal enum ActorState
{
    Pending,
    Starting,
    Alive,
    Dead,
}

/// <summary>One actor: its worker, its mailbox (calls in the order they were made) and its fate.</summary>
internal sealed class ActorRecord(CreateActor spec, ClientSession owner, ResourceSet demand)
{
    public object Gate { get; } = new();

    public CreateActor Spec { get; } = spec;

    public string Id => Spec.ActorId;

    public ClientSession Owner { get; } = owner;

    public ResourceSet Demand { get; } = demand;

    public string ClassName => Spec.Constructor.Type;

    public ActorState State { get; set; } = ActorState.Pending;

    public PreparedEnv Env { get; set; } = PreparedEnv.None;

    public IReadOnlyList<ByteString> ConstructorArgs { get; set; } = [];

    public WorkerProcess? Worker { get; set; }

    public int Restarts { get; set; }

    public bool HoldsResources { get; set; }

    /// <summary>Kill requests waiting for the actor to be gone.</summary>
    public List<string> KillIds { get; } = [];

    public TaskError? DeathCause { get; set; }

    /// <summary>Calls not yet sent to the worker, in call order.</summary>
    public Queue<ActorCall> Mailbox { get; } = new();

    /// <summary>Calls sent to the worker and not yet answered.</summary>
    public Dictionary<string, ActorCall> InFlight { get; } = new(StringComparer.Ordinal);
}

/// <summary>A call waiting in a mailbox; <see cref="Args"/> completes when its dependencies are ready.</summary>
internal sealed class ActorCall(CallActor spec, ValueTask<(IReadOnlyList<ByteString> Values, TaskError? Error)> args)
{
    public CallActor Spec { get; } = spec;

    public Task<(IReadOnlyList<ByteString> Values, TaskError? Error)> Args { get; } = args.AsTask();
}
