using Terrarium.Protocol;

namespace Terrarium.Sessions;

/// <summary>Turns a remote error into the typed exception the API promises.</summary>
internal static class Errors
{
    public static Exception ToException(TaskError error) => error.Kind switch
    {
        ErrorKind.Application => new TaskFailedException(error.Function, error.RemoteType, error.Message, error.RemoteStack),
        ErrorKind.WorkerCrashed => new WorkerCrashedException(error.Message, error.ExitCode),
        ErrorKind.ActorDied => new ActorDiedException(error.Message,
            error.RemoteType.Length > 0 ? error.RemoteType : null, error.RemoteStack.Length > 0 ? error.RemoteStack : null),
        ErrorKind.RuntimeEnvSetup => new RuntimeEnvSetupException(
            $"the runtime env of {error.Function} could not be set up ({error.SetupField}): {error.Message}", error.SetupField, error.SetupLog),
        ErrorKind.ObjectLost => new ObjectLostException(error.Message),
        ErrorKind.Cancelled => new TaskCancelledException(error.Message, error.Function, error.TimedOut),
        _ => new InvalidOperationException(error.Message),
    };
}
