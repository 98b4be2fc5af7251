using Microsoft.Extensions.Logging;

namespace Terrarium.Logging;

/// <summary>The driver's own log messages, through <see cref="ClusterOptions.LoggerFactory"/>. Tokens and env var values are never logged.</summary>
internal static partial class ClientLog
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "{Field} '{Source}': '{File}' is {Size}; large files slow every upload and node download")]
    public static partial void LargeFileInPackage(ILogger logger, string field, string source, string file, string size);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Uploading {Package}… {Percent}% ({SentMiB}/{TotalMiB} MiB)")]
    public static partial void UploadProgress(ILogger logger, string package, long percent, long sentMiB, long totalMiB);
}
