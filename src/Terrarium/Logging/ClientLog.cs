using Microsoft.Extensions.Logging;

namespace Terrarium.Logging;

/// <summary>The driver's own log messages, through <see cref="ClusterOptions.LoggerFactory"/>. Tokens and env var values are never logged.</summary>
internal static partial class ClientLog
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "{Field} '{Source}': '{File}' is {Size}; large files slow every upload and node download")]
    public static partial void LargeFileInPackage(ILogger logger, string field, string source, string file, string size);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Uploading {Package}… {Percent}% ({SentMiB}/{TotalMiB} MiB)")]
    public static partial void UploadProgress(ILogger logger, string package, long percent, long sentMiB, long totalMiB);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Uploading {Package} to the head failed: {Reason}. Work that needs it fails once nodes give up waiting for it; submitting it again tries the upload again")]
    public static partial void UploadFailed(ILogger logger, string package, string reason);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Env {Env} on node {Node}: setting up {Field}…")]
    public static partial void EnvStepStarted(ILogger logger, string env, string node, string field);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Env {Env} on node {Node}: {Field} done in {Seconds:0.00} s")]
    public static partial void EnvStepFinished(ILogger logger, string env, string node, string field, double seconds);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Warning, Message = "Env {Env} on node {Node}: {Field}: {Text}")]
    public static partial void EnvSetupWarning(ILogger logger, string env, string node, string field, string text);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "Env {Env} on node {Node}: {Field} failed after {Seconds:0.00} s: {Text} (its log: terrarium env logs {Env})")]
    public static partial void EnvSetupFailed(ILogger logger, string env, string node, string field, double seconds, string text);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Information, Message = "Env {Env} on node {Node} ready in {Seconds:0.00} s")]
    public static partial void EnvReady(ILogger logger, string env, string node, double seconds);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Warning, Message = "{Env}: config.eager_install has no effect on a task's or actor's env, which is built where the work runs; set it on the job's env (ClusterOptions.Job)")]
    public static partial void EagerInstallIgnored(ILogger logger, string env);
}
