using Microsoft.Extensions.Logging;

namespace Terrarium.Node.Service;

/// <summary>The node's log messages. Env var values and tokens are never logged.</summary>
internal static partial class NodeLog
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Node {NodeId} listening on {Endpoints}")]
    public static partial void NodeStarted(ILogger logger, string nodeId, string endpoints);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Debug, Message = "Session {SessionId} opened for job {JobId} (worker '{WorkerId}')")]
    public static partial void SessionOpened(ILogger logger, string sessionId, string jobId, string workerId);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Debug, Message = "Session {SessionId} closed")]
    public static partial void SessionClosed(ILogger logger, string sessionId);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Warning, Message = "Session {SessionId} of a driver lost its stream; kept {Grace} for the driver to resume")]
    public static partial void SessionDetached(ILogger logger, string sessionId, TimeSpan grace);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Debug, Message = "Session {SessionId} of worker {WorkerId} lost its stream; kept for it to resume")]
    public static partial void WorkerSessionDetached(ILogger logger, string sessionId, string workerId);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Information, Message = "Session {SessionId} resumed after {Handled} handled requests")]
    public static partial void SessionResumed(ILogger logger, string sessionId, long handled);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Warning, Message = "Session {SessionId} sent an invalid request: {Problem}")]
    public static partial void InvalidRequest(ILogger logger, string sessionId, string problem);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Debug, Message = "Worker {WorkerId} started as pid {Pid} for job {JobId}, env '{EnvHash}', actor '{ActorId}'")]
    public static partial void WorkerStarted(ILogger logger, string workerId, int pid, string jobId, string envHash, string actorId);

    [LoggerMessage(EventId = 2015, Level = LogLevel.Debug, Message = "Pre-started worker {WorkerId} (pid {Pid}) taken for job {JobId}, env '{EnvHash}'")]
    public static partial void WorkerTaken(ILogger logger, string workerId, int pid, string jobId, string envHash);

    [LoggerMessage(EventId = 2011, Level = LogLevel.Error, Message = "Worker {WorkerId} could not be started with '{Dotnet}': {Reason}")]
    public static partial void WorkerStartFailed(ILogger logger, string workerId, string dotnet, string reason);

    [LoggerMessage(EventId = 2012, Level = LogLevel.Debug, Message = "Worker {WorkerId} (pid {Pid}) exited with code {ExitCode}")]
    public static partial void WorkerExited(ILogger logger, string workerId, int pid, int exitCode);

    [LoggerMessage(EventId = 2013, Level = LogLevel.Debug, Message = "Stopping idle worker {WorkerId}")]
    public static partial void ReapingIdleWorker(ILogger logger, string workerId);

    [LoggerMessage(EventId = 2014, Level = LogLevel.Warning, Message = "Worker {WorkerId} reported a result for {WorkId}, which it was not running")]
    public static partial void UnexpectedResult(ILogger logger, string workerId, string workId);

    [LoggerMessage(EventId = 2020, Level = LogLevel.Information, Message = "Retrying task {TaskId} after {Cause} (retry {Retry})")]
    public static partial void RetryingTask(ILogger logger, string taskId, string cause, int retry);

    [LoggerMessage(EventId = 2021, Level = LogLevel.Information, Message = "Cancelling task {TaskId}: {How}")]
    public static partial void CancellingTask(ILogger logger, string taskId, string how);

    [LoggerMessage(EventId = 2030, Level = LogLevel.Debug, Message = "Actor {ActorId} started in pid {Pid}")]
    public static partial void ActorStarted(ILogger logger, string actorId, int pid);

    [LoggerMessage(EventId = 2031, Level = LogLevel.Information, Message = "Restarting actor {ActorId} (restart {Restart} of {MaxRestarts})")]
    public static partial void RestartingActor(ILogger logger, string actorId, int restart, int maxRestarts);

    [LoggerMessage(EventId = 2032, Level = LogLevel.Debug, Message = "Actor {ActorId} is dead: {Cause}")]
    public static partial void ActorDied(ILogger logger, string actorId, string cause);

    [LoggerMessage(EventId = 2040, Level = LogLevel.Information, Message = "Building runtime env {Hash}")]
    public static partial void BuildingEnv(ILogger logger, string hash);

    [LoggerMessage(EventId = 2041, Level = LogLevel.Information, Message = "Retrying the setup of runtime env {Hash}, which failed earlier")]
    public static partial void RetryingFailedEnv(ILogger logger, string hash);

    [LoggerMessage(EventId = 2042, Level = LogLevel.Information, Message = "Fetching package {Uri}")]
    public static partial void FetchingPackage(ILogger logger, string uri);

    [LoggerMessage(EventId = 2043, Level = LogLevel.Warning, Message = "Setting up runtime env {Hash} failed in {Field}: {Reason}")]
    public static partial void EnvSetupFailed(ILogger logger, string hash, string field, string reason);

    [LoggerMessage(EventId = 2044, Level = LogLevel.Information, Message = "Restoring NuGet packages {Packages}")]
    public static partial void RestoringNuGet(ILogger logger, string packages);

    [LoggerMessage(EventId = 2045, Level = LogLevel.Information, Message = "Pulling container image {Image}")]
    public static partial void PullingImage(ILogger logger, string image);

    [LoggerMessage(EventId = 2046, Level = LogLevel.Information, Message = "Container image {Image} runs the worker: {Probe}")]
    public static partial void ContainerReady(ILogger logger, string image, string probe);

    [LoggerMessage(EventId = 2047, Level = LogLevel.Information, Message = "Creating virtual environment {Venv} with {Packages}")]
    public static partial void CreatingVenv(ILogger logger, string venv, string packages);

    [LoggerMessage(EventId = 2048, Level = LogLevel.Information, Message = "Creating conda environment {Prefix} with {Tool}")]
    public static partial void CreatingCondaEnv(ILogger logger, string prefix, string tool);

    [LoggerMessage(EventId = 2049, Level = LogLevel.Information, Message = "Resolved NuGet packages {Packages} from the node's package folder, without a restore")]
    public static partial void ResolvedFromPackageFolder(ILogger logger, string packages);

    [LoggerMessage(EventId = 2051, Level = LogLevel.Debug, Message = "NuGet packages {Packages} need a restore: {Reason}")]
    public static partial void PackageFolderNotEnough(ILogger logger, string packages, string reason);

    [LoggerMessage(EventId = 2052, Level = LogLevel.Warning, Message = "Resolving NuGet packages {Packages} from the node's package folder failed; restoring instead")]
    public static partial void PackageFolderResolutionFailed(ILogger logger, string packages, Exception exception);

    [LoggerMessage(EventId = 2053, Level = LogLevel.Debug, Message = "Copied object {ObjectId} from node {NodeId}")]
    public static partial void ObjectCopied(ILogger logger, string objectId, string nodeId);

    [LoggerMessage(EventId = 2050, Level = LogLevel.Warning, Message = "Call {Call} to the head failed: {Detail}")]
    public static partial void HeadCallFailed(ILogger logger, string call, string detail);

    [LoggerMessage(EventId = 2054, Level = LogLevel.Warning, Message = "NuGet restores read {Used} only, not {Ignored}: give the node --nuget-config to combine them")]
    public static partial void NuGetConfigsNotRead(ILogger logger, string used, string ignored);

    [LoggerMessage(EventId = 2055, Level = LogLevel.Warning, Message = "The user's NuGet config cannot be read ({Reason}): NuGet restores use nuget.org alone")]
    public static partial void NuGetConfigUnreadable(ILogger logger, string reason);

    [LoggerMessage(EventId = 2056, Level = LogLevel.Warning, Message = "Large values live in {Location}; workers and drivers of this machine fetch them instead of mapping them")]
    public static partial void NoSharedMemoryStore(ILogger logger, string location);

    [LoggerMessage(EventId = 2057, Level = LogLevel.Error, Message = "The eager setup of env {EnvHash} failed unexpectedly")]
    public static partial void EagerSetupFailed(ILogger logger, string envHash, Exception exception);

    [LoggerMessage(EventId = 2058, Level = LogLevel.Information, Message = "Removed {Resource} from the env cache (unused)")]
    public static partial void CachedResourceRemoved(ILogger logger, string resource);

    [LoggerMessage(EventId = 2063, Level = LogLevel.Error, Message = "Ending job {JobId} on this node, as the head said it ended, failed")]
    public static partial void JobEndFailed(ILogger logger, string jobId, Exception exception);

    [LoggerMessage(EventId = 2062, Level = LogLevel.Warning, Message = "Pulled image {Image} is not recorded in the env cache, so it will not be collected: {Reason}")]
    public static partial void PulledImageNotRecorded(ILogger logger, string image, string reason);

    [LoggerMessage(EventId = 2059, Level = LogLevel.Warning, Message = "Could not remove {Resource} from the env cache: {Reason}")]
    public static partial void CachedResourceNotRemoved(ILogger logger, string resource, string reason);

    [LoggerMessage(EventId = 2060, Level = LogLevel.Warning, Message = "The env cache's index cannot be saved ({Reason}): after a restart, folders' times stand for when they were last used")]
    public static partial void CacheIndexNotSaved(ILogger logger, string reason);

    [LoggerMessage(EventId = 2061, Level = LogLevel.Error, Message = "Collecting the env cache failed")]
    public static partial void CacheCollectionFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2062, Level = LogLevel.Information, Message = "Job {SubmissionId}: driver started, pid {Pid}: {Entrypoint}")]
    public static partial void JobDriverStarted(ILogger logger, string submissionId, int pid, string entrypoint);

    [LoggerMessage(EventId = 2063, Level = LogLevel.Information, Message = "Job {SubmissionId}: stopping its driver (pid {Pid})")]
    public static partial void JobDriverStopping(ILogger logger, string submissionId, int pid);

    [LoggerMessage(EventId = 2064, Level = LogLevel.Information, Message = "Job {SubmissionId}: driver ended: {How}")]
    public static partial void JobDriverEnded(ILogger logger, string submissionId, string how);
}
