using Google.Protobuf;
using Terrarium.Node.Resources;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.Sessions;
using Terrarium.Node.Workers;
using Terrarium.Protocol;

namespace Terrarium.Node.Actors;

internal enum ActorState
{
    Pending,
    Starting,
    Alive,
    Dead,
}

/// <summary>
/// One actor: its worker, where that worker serves calls, and its fate. Callers reach the worker
/// directly; the record answers their questions about where it is and how an incarnation ended.
/// </summary>
internal sealed class ActorRecord(CreateActor spec, Session owner, ResourceSet demand)
{
    public object Gate { get; } = new();

    public CreateActor Spec { get; } = spec;

    public string Id => Spec.ActorId;

    public Session Owner { get; } = owner;

    public ResourceSet Demand { get; } = demand;

    public string ClassName => Spec.Constructor.Type;

    public ActorState State { get; set; } = ActorState.Pending;

    public PreparedEnv Env { get; set; } = PreparedEnv.None;

    public IReadOnlyList<ByteString> ConstructorArgs { get; set; } = [];

    public WorkerProcess? Worker { get; set; }

    /// <summary>1 for the first worker, one more per restart; 0 before the first starts.</summary>
    public int Incarnation { get; set; }

    /// <summary>Where the live incarnation serves calls; empty unless <see cref="ActorState.Alive"/>.</summary>
    public string Address { get; set; } = "";

    /// <summary>Where callers of this machine reach the live incarnation too, when <see cref="Address"/> is TCP; else empty.</summary>
    public string UnixAddress { get; set; } = "";

    public int Restarts { get; set; }

    public bool HoldsResources { get; set; }

    /// <summary>Kill requests waiting for the actor to be gone.</summary>
    public List<string> KillIds { get; } = [];

    public TaskError? DeathCause { get; set; }

    /// <summary>
    /// Its job ended: once it is dead and its worker gone, its record goes (no caller of the job is
    /// left to ask how it ended). A detached actor lives on until then.
    /// </summary>
    public bool JobEnded { get; set; }

    /// <summary>How each incarnation that is over ended, by incarnation.</summary>
    public Dictionary<int, TaskError> Endings { get; } = [];

    /// <summary>Callers waiting for the actor to be alive after an incarnation, or dead.</summary>
    public List<(Session Caller, LocateActor Request)> Locators { get; } = [];
}
