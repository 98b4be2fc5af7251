using System.Text.Json;
using Terrarium.Protocol;

namespace Terrarium.Head.Jobs;

/// <summary>
/// A submitted job as the HTTP API and <c>terrarium job status --json</c> show it: Ray's job details,
/// in snake case (<see cref="JsonNamingPolicy.SnakeCaseLower"/>).
/// </summary>
/// <param name="SubmissionId">Its id.</param>
/// <param name="Status">PENDING, RUNNING, STOPPED, SUCCEEDED or FAILED.</param>
/// <param name="Message">Why it failed or stopped, or what it waits for.</param>
/// <param name="Entrypoint">The driver's program and its arguments.</param>
/// <param name="RuntimeEnv">The job's runtime env, local paths replaced by the <c>pkg://</c> URIs they were uploaded as.</param>
/// <param name="Metadata">What the submitter kept with it.</param>
/// <param name="SubmittedAt">When it was submitted.</param>
/// <param name="StartedAt">When its driver started; null before.</param>
/// <param name="EndedAt">When it ended; null before.</param>
/// <param name="NodeId">The node that runs (or ran) its driver; null while none does.</param>
/// <param name="DriverPid">Its driver's process id on that node.</param>
/// <param name="ExitCode">Its driver's exit status, once it exited.</param>
/// <param name="JobId">The job its driver registered: the one its tasks and actors belong to.</param>
/// <param name="LogBytes">Bytes its driver has printed (the head keeps the last ones).</param>
internal sealed record JobDetails(
    string SubmissionId, string Status, string Message, IReadOnlyList<string> Entrypoint, JsonElement? RuntimeEnv,
    IReadOnlyDictionary<string, string> Metadata, DateTimeOffset SubmittedAt, DateTimeOffset? StartedAt, DateTimeOffset? EndedAt,
    string? NodeId, int? DriverPid, int? ExitCode, string? JobId, long LogBytes)
{
    public static readonly JsonSerializerOptions Options = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    public static JobDetails From(JobSubmission job) => new(
        job.SubmissionId, job.State, job.Message, [.. job.Entrypoint],
        job.RuntimeEnv.Length > 0 ? JsonDocument.Parse(job.RuntimeEnv).RootElement.Clone() : null,
        job.Metadata.ToDictionary(),
        DateTimeOffset.FromUnixTimeMilliseconds(job.SubmittedUnixMs),
        job.StartedUnixMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(job.StartedUnixMs) : null,
        job.EndedUnixMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(job.EndedUnixMs) : null,
        job.NodeId.Length > 0 ? job.NodeId : null,
        job.DriverPid > 0 ? job.DriverPid : null,
        job.Exited ? job.ExitCode : null,
        job.JobId.Length > 0 ? job.JobId : null,
        job.LogBytes);
}
