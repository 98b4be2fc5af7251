using Terrarium.Objects;
using Terrarium.Protocol;
using Terrarium.Serialization;

namespace Terrarium.Actors;

/// <summary>An actor call not yet sent: it waits for its turn and for the refs it takes as arguments.</summary>
internal sealed class PendingCall(ObjectHandle handle, FunctionDescriptor method, CallArg[] args, string concurrencyGroup)
{
    public ObjectHandle Handle { get; } = handle;

    /// <summary>The method, for messages.</summary>
    public string Display => $"{method.Type.Split('.').Last().Replace('+', '.')}.{method.Method}";

    /// <summary>Whether a continuation already waits for a dependency of this call.</summary>
    public bool Waiting { get; set; }

    /// <summary>A dependency it waited for is ready: its caller (the one that holds it now) looks again.</summary>
    public void Resume()
    {
        Waiting = false;
        Handle.Caller?.Pump();
    }

    /// <summary>A dependency still being computed, or null when every argument is ready.</summary>
    public Task? FirstUnreadyDependency()
    {
        foreach (var arg in args)
        {
            if (arg.Dependency is { HasValue: false } dependency)
            {
                // The call carries values: a large result that stayed on its node comes here first.
                return dependency.ValueAsync();
            }
        }

        return null;
    }

    /// <summary>The call with every argument's value, or the error of the first dependency that failed.</summary>
    public (ActorCall Call, TaskError? FailedDependency) ToCall()
    {
        var call = new ActorCall { WorkId = Handle.Id, Method = method, ConcurrencyGroup = concurrencyGroup };
        foreach (var arg in args)
        {
            if (arg.Dependency is not { } dependency)
            {
                call.Args.Add(arg.Value);
                continue;
            }

            var ready = dependency.Value;
            if (ready.Error is { } error)
            {
                return (call, error);
            }

            call.Args.Add(ready.Value);
        }

        return (call, null);
    }
}
