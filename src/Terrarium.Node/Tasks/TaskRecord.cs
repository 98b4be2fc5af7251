using Google.Protobuf;
using Terrarium.Node.Resources;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.Sessions;
using Terrarium.Protocol;

namespace Terrarium.Node.Tasks;

/// <summary>A submitted task on its way through the node: waiting, queued, running or retried.</summary>
internal sealed class TaskRecord(SubmitTask spec, Session owner, ResourceSet demand)
{
    public SubmitTask Spec { get; } = spec;

    public Session Owner { get; } = owner;

    public string JobId => Owner.JobId;

    public ResourceSet Demand { get; } = demand;

    /// <summary>Argument values, once every dependency is ready.</summary>
    public IReadOnlyList<ByteString> Args { get; set; } = [];

    public PreparedEnv Env { get; private set; } = PreparedEnv.None;

    /// <summary>Workers of the same job and env are interchangeable.</summary>
    public string PoolKey => JobId + "|" + Env.Hash;

    /// <summary>Tasks of one pool and demand shape queue together and may share a worker's lease.</summary>
    public string ClassKey { get; private set; } = "";

    public void SetEnv(PreparedEnv env)
    {
        Env = env;
        ClassKey = PoolKey + "|" + Demand.Key;
    }

    public int CrashCount { get; set; }

    /// <summary>Whether, and how, the task is being cancelled; set under the dispatcher's lock.</summary>
    public TaskCancellation Cancellation { get; set; }

    /// <summary>The longest the task may run on a worker; null for no limit.</summary>
    public TimeSpan? Timeout { get; } = spec.TimeoutMs > 0 ? TimeSpan.FromMilliseconds(spec.TimeoutMs) : null;

    public int ExceptionCount { get; set; }

    /// <summary>
    /// After its code threw: whether to run it again (it asked for retries on exceptions, has some
    /// left, and nobody is cancelling it). A retry is counted.
    /// </summary>
    public bool RetryAfterException(TaskError error)
    {
        if (error.Kind != ErrorKind.Application || !Spec.RetryExceptions || ExceptionCount >= Spec.MaxRetries || Cancellation != TaskCancellation.None)
        {
            return false;
        }

        ExceptionCount++;
        return true;
    }

    /// <summary>After its worker died under it, not to cancel it: whether to run it again. A retry is counted.</summary>
    public bool RetryAfterCrash()
    {
        if (Cancellation != TaskCancellation.None || CrashCount >= Spec.MaxRetries)
        {
            return false;
        }

        CrashCount++;
        return true;
    }

    public string FunctionName => Describe(Spec.Function);

    public static string Describe(FunctionDescriptor function) =>
        $"{function.Type.Split('.').Last().Replace('+', '.')}.{function.Method}";
}

/// <summary>How a task is being cancelled.</summary>
internal enum TaskCancellation
{
    /// <summary>It is not.</summary>
    None,

    /// <summary>Its token was cancelled: it ends when its code gives up.</summary>
    Requested,

    /// <summary>Its worker is being killed (or, sent ahead to a worker, will be if it starts there).</summary>
    Forced,

    /// <summary>It ran past its timeout: its worker is being killed.</summary>
    TimedOut,

    /// <summary>Its job ended: it never runs again, whatever becomes of its worker.</summary>
    JobEnded,
}
