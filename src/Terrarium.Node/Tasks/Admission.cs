using Terrarium.Node.Resources;
using Terrarium.Node.Sessions;
using Terrarium.Protocol;

namespace Terrarium.Node.Tasks;

/// <summary>What a task or actor must pass before the node takes it on.</summary>
internal static class Admission
{
    /// <summary>The env's JSON, or the reason the work can never run here.</summary>
    public static (string EnvJson, TaskError? Refusal) Check(string what, ResourceSet demand, ResourceLedger ledger, Session owner, string envHash)
    {
        if (demand.ExceedsTotal(ledger.Total) is { } shortfall)
        {
            return ("", new TaskError { Kind = ErrorKind.InvalidRequest, Message = $"{what} can never run here: it {shortfall}" });
        }

        return owner.TryGetEnv(envHash, out var envJson)
            ? (envJson, null)
            : ("", new TaskError
            {
                Kind = ErrorKind.InvalidRequest,
                Message = owner.RefusalOfEnv(envHash) is { } refusal
                    ? $"runtime env {envHash} was refused by the node: {refusal}"
                    : $"runtime env {envHash} was not defined in this session",
            });
    }
}
