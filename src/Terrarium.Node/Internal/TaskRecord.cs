using Google.Protobuf;
using Terrarium.Protocol;

namespace Terrarium.Node.Internal;

/// <summary>A submitted task on its way through the node: waiting, queued, running or retried.</summary>
internal sealed class TaskRecord(SubmitTask spec, ClientSession owner, ResourceSet demand)
{
    public SubmitTask Spec { get; } = spec;

    public ClientSession Owner { get; } = owner;

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

    public int ExceptionCount { get; set; }

    public string FunctionName => Describe(Spec.Function);

    public static string Describe(FunctionDescriptor function) =>
        $"{function.Type.Split('.').Last().Replace('+', '.')}.{function.Method}";
}
