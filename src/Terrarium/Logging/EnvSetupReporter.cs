using Microsoft.Extensions.Logging;
using Terrarium.Protocol;

namespace Terrarium.Logging;

/// <summary>
/// The setup of the driver's envs as nodes report it, on the driver's logger: a line per step with
/// its duration, and what the user should know (a package version other than the one asked for).
/// The whole log of a step is on its node: <c>terrarium env logs HASH</c>.
/// </summary>
internal sealed class EnvSetupReporter(ILogger<EnvSetupReporter> logger, EnvSetupProgressDisplay? display)
{
    /// <summary>Enough of an env's hash to tell it apart and to give <c>terrarium env logs</c>.</summary>
    private const int ShownHashLength = 12;

    public static string Shown(string envHash) => envHash.Length > ShownHashLength ? envHash[..ShownHashLength] : envHash;

    public void Report(EnvSetupProgress step)
    {
        display?.Report(step);
        var env = Shown(step.EnvHash);
        switch (step.Stage)
        {
            case EnvSetupStage.EnvSetupStarted:
                ClientLog.EnvStepStarted(logger, env, step.NodeId, step.Field);
                break;
            case EnvSetupStage.EnvSetupFinished:
                ClientLog.EnvStepFinished(logger, env, step.NodeId, step.Field, step.Seconds);
                break;
            case EnvSetupStage.EnvSetupWarning:
                ClientLog.EnvSetupWarning(logger, env, step.NodeId, step.Field, step.Text);
                break;
            case EnvSetupStage.EnvSetupFailed:
                ClientLog.EnvSetupFailed(logger, env, step.NodeId, step.Field, step.Seconds, step.Text);
                break;
            case EnvSetupStage.EnvSetupReady:
                ClientLog.EnvReady(logger, env, step.NodeId, step.Seconds);
                break;
        }
    }
}
