using Terrarium.Protocol;

namespace Terrarium.Worker;

/// <summary>
/// One thing for a worker to run, in arrival order: a command from its node (a task, or starting
/// the actor), or a call from one of its actor's callers, answered on that caller's stream.
/// </summary>
internal readonly record struct WorkItem(WorkerCommand? Command, ActorCall? Call, CallerStream? Caller)
{
    public static WorkItem FromNode(WorkerCommand command) => new(command, null, null);

    public static WorkItem FromCaller(ActorCall call, CallerStream caller) => new(null, call, caller);
}
