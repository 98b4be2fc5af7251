using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Terrarium.Head.State;
using Terrarium.Protocol;

namespace Terrarium.Head.Jobs;

/// <summary>
/// Submitted jobs: a driver program the head has a node run, as Ray's job submission does. A job is
/// PENDING until a node reports its driver started (the head hands it to the first live node that
/// heartbeats), RUNNING until the driver exits — SUCCEEDED with status 0, FAILED otherwise, STOPPED
/// when a user stopped it — and FAILED if it cannot start or its node dies. Records and the last
/// <see cref="HeadOptions.JobLogLimit"/> bytes of output are in the state store, so a head
/// restarted with Redis keeps them; nodes go on running their drivers through a head restart.
/// </summary>
internal sealed partial class JobSubmissions(HeadOptions options, HeadState cluster, IHeadStore store)
{
    public const string Pending = "PENDING";
    public const string Running = "RUNNING";
    public const string Stopped = "STOPPED";
    public const string Succeeded = "SUCCEEDED";
    public const string Failed = "FAILED";

    private const int MaxMetadataBytes = 16 << 10;
    private const int MaxEntrypointChars = 64 << 10;
    private const int MaxRuntimeEnvChars = 1 << 20;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Submission> _jobs = new(StringComparer.Ordinal);

    // Store writes go one at a time, in the order the state changed: a job's later record is never
    // overwritten by an earlier one.
    private readonly SemaphoreSlim _writes = new(1, 1);

    public static bool IsEnded(JobSubmission job) => job.State is Stopped or Succeeded or Failed;

    /// <summary>Takes back the jobs a previous head stored, with their output.</summary>
    public void Restore(StoredHeadState stored)
    {
        lock (_lock)
        {
            foreach (var job in stored.Submissions)
            {
                var output = stored.JobLogs.GetValueOrDefault(job.SubmissionId) ?? [];
                var submission = new Submission(job, new JobLog(options.JobLogLimit)) { StoredLogBytes = output.Length };
                submission.Log.Restore(output, job.LogBytes);
                _jobs[job.SubmissionId] = submission;
                cluster.HoldPackagesForSubmission(job.SubmissionId, !IsEnded(job));
            }
        }
    }

    /// <exception cref="ArgumentException">The request is invalid (the message says what is wrong).</exception>
    /// <exception cref="InvalidOperationException">A job of that submission id exists.</exception>
    public async Task<JobSubmission> SubmitAsync(SubmitJobRequest request)
    {
        var id = request.SubmissionId.Length > 0 ? request.SubmissionId : $"submit-{Guid.NewGuid():N}"[..19];
        Validate(id, request);
        var job = new JobSubmission
        {
            SubmissionId = id,
            Entrypoint = { request.Entrypoint },
            RuntimeEnv = request.RuntimeEnv,
            State = Pending,
            Message = "waiting for a node to start its driver",
            SubmittedUnixMs = Now(),
            Metadata = { request.Metadata },
        };
        lock (_lock)
        {
            if (_jobs.ContainsKey(id))
            {
                throw new InvalidOperationException($"a job with submission id '{id}' exists already; pick another id, or delete that job first (terrarium job delete {id})");
            }

            _jobs[id] = new Submission(job, new JobLog(options.JobLogLimit));
            cluster.HoldPackagesForSubmission(id, true);
        }

        await SaveAsync(id).ConfigureAwait(false);
        return Get(id);
    }

    /// <exception cref="KeyNotFoundException">No job has that submission id.</exception>
    public JobSubmission Get(string id)
    {
        lock (_lock)
        {
            return Find(id).Record.Clone();
        }
    }

    public List<JobSubmission> List()
    {
        lock (_lock)
        {
            return _jobs.Values.Select(s => s.Record.Clone()).OrderBy(j => j.SubmittedUnixMs).ThenBy(j => j.SubmissionId, StringComparer.Ordinal).ToList();
        }
    }

    /// <summary>
    /// Stops the job: one not handed to a node yet is STOPPED at once; otherwise its node is told, with
    /// its next heartbeat, to stop the driver, and the job is STOPPED once it exits. An ended job is left as it is.
    /// </summary>
    /// <exception cref="KeyNotFoundException">No job has that submission id.</exception>
    public async Task<JobSubmission> StopAsync(string id)
    {
        JobSubmission record;
        lock (_lock)
        {
            var submission = Find(id);
            record = submission.Record;
            if (IsEnded(record))
            {
                return record.Clone();
            }

            record.StopRequested = true;
            if (record.NodeId.Length == 0)
            {
                End(submission, Stopped, "stopped before its driver started");
            }
            else
            {
                record.Message = "stopping its driver";
            }

            record = record.Clone();
        }

        await SaveAsync(id).ConfigureAwait(false);
        return record;
    }

    /// <summary>Forgets an ended job and its output.</summary>
    /// <exception cref="KeyNotFoundException">No job has that submission id.</exception>
    /// <exception cref="InvalidOperationException">The job has not ended.</exception>
    public async Task DeleteAsync(string id)
    {
        lock (_lock)
        {
            var submission = Find(id);
            if (!IsEnded(submission.Record))
            {
                throw new InvalidOperationException($"job '{id}' is {submission.Record.State}: stop it first (terrarium job stop {id}), then delete it");
            }

            _jobs.Remove(id);
            submission.Log.Signal();
        }

        await _writes.WaitAsync().ConfigureAwait(false);
        try
        {
            await store.RemoveSubmissionAsync(id).ConfigureAwait(false);
        }
        finally
        {
            _writes.Release();
        }
    }

    /// <summary>The driver of a submitted job registered its job: stopping the submission ends that job too.</summary>
    public async Task LinkJobAsync(string submissionId, string jobId)
    {
        lock (_lock)
        {
            if (!_jobs.TryGetValue(submissionId, out var submission))
            {
                return;
            }

            submission.Record.JobId = jobId;
        }

        await SaveAsync(submissionId).ConfigureAwait(false);
    }

    /// <summary>More of a driver's output, from the node that runs it.</summary>
    /// <returns>How much of the output the head has: the node sends on from there.</returns>
    /// <exception cref="KeyNotFoundException">No job has that submission id (deleted, or a head restarted without Redis).</exception>
    /// <exception cref="ArgumentException">The output comes from a node that does not run that job's driver.</exception>
    public async Task<long> AppendLogAsync(AppendJobLogRequest request)
    {
        byte[] added;
        long total;
        byte[]? keptForStore = null;
        lock (_lock)
        {
            var submission = Find(request.SubmissionId);
            if (submission.Record.NodeId != request.NodeId)
            {
                throw new ArgumentException($"job '{request.SubmissionId}' runs on node '{submission.Record.NodeId}', not on '{request.NodeId}'");
            }

            added = submission.Log.Append(request.Offset, request.Data.Span);
            total = submission.Log.Total;
            submission.Record.LogBytes = total;
            submission.StoredLogBytes += added.Length;
            if (submission.StoredLogBytes > 2 * options.JobLogLimit)
            {
                // The store's copy is replaced by what the head keeps, so it stays within twice the limit.
                keptForStore = submission.Log.Kept;
                submission.StoredLogBytes = keptForStore.Length;
            }
        }

        if (added.Length > 0)
        {
            await _writes.WaitAsync().ConfigureAwait(false);
            try
            {
                // The record as it is now (see SaveAsync); the output in the order it came (one node sends it, call after call).
                JobSubmission? record;
                lock (_lock)
                {
                    record = _jobs.TryGetValue(request.SubmissionId, out var submission) ? submission.Record.Clone() : null;
                }

                if (record is not null)
                {
                    await store.AppendJobLogAsync(record, added, keptForStore).ConfigureAwait(false);
                }
            }
            finally
            {
                _writes.Release();
            }
        }

        return total;
    }

    /// <summary>
    /// The job's output from <paramref name="offset"/> (or its first byte the head still has); with
    /// <paramref name="follow"/>, new output as it comes until the job has ended and all is sent.
    /// </summary>
    /// <exception cref="KeyNotFoundException">No job has that submission id.</exception>
    public async IAsyncEnumerable<JobLogChunk> TailAsync(string id, long offset, bool follow, [EnumeratorCancellation] CancellationToken ct)
    {
        while (true)
        {
            long from;
            byte[] data;
            bool ended;
            Task changed;
            lock (_lock)
            {
                if (!_jobs.TryGetValue(id, out var submission))
                {
                    // Deleted while followed: what was sent stands.
                    yield break;
                }

                (from, data) = submission.Log.From(offset);
                ended = IsEnded(submission.Record);
                changed = submission.Log.Changed;
            }

            for (var at = 0; at < data.Length; at += 1 << 20)
            {
                var length = Math.Min(1 << 20, data.Length - at);
                yield return new JobLogChunk { Offset = from + at, Data = ByteString.CopyFrom(data, at, length) };
            }

            offset = from + data.Length;
            if (!follow || (ended && data.Length == 0))
            {
                yield break;
            }

            if (data.Length == 0)
            {
                await changed.WaitAsync(ct).ConfigureAwait(false);
            }
        }
    }

    private Submission Find(string id) =>
        _jobs.TryGetValue(id, out var submission) ? submission : throw new KeyNotFoundException($"no job has submission id '{id}' (terrarium job list shows them)");

    /// <summary>Under the lock: the job ended, with <paramref name="state"/> and why.</summary>
    private void End(Submission submission, string state, string message)
    {
        submission.Record.State = state;
        submission.Record.Message = message;
        submission.Record.EndedUnixMs = Now();
        cluster.HoldPackagesForSubmission(submission.Record.SubmissionId, false);
        submission.Log.Signal();
    }

    /// <summary>
    /// Saves the job as it is when its turn to be written comes (not as it was when it changed): a
    /// later change written first is never overwritten by an earlier one, and a deleted job is not
    /// written back.
    /// </summary>
    private async Task SaveAsync(string submissionId)
    {
        await _writes.WaitAsync().ConfigureAwait(false);
        try
        {
            JobSubmission? record;
            lock (_lock)
            {
                record = _jobs.TryGetValue(submissionId, out var submission) ? submission.Record.Clone() : null;
            }

            if (record is not null)
            {
                await store.SaveSubmissionAsync(record).ConfigureAwait(false);
            }
        }
        finally
        {
            _writes.Release();
        }
    }

    private long Now() => options.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();

    private static void Validate(string id, SubmitJobRequest request)
    {
        if (!SubmissionId().IsMatch(id))
        {
            throw new ArgumentException($"submission id '{id}' must be 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit");
        }

        if (request.Entrypoint.Count == 0 || request.Entrypoint[0].Trim().Length == 0)
        {
            throw new ArgumentException("a job needs an entrypoint: the program its driver runs, and its arguments");
        }

        if (request.Entrypoint.Any(a => a.Contains('\0', StringComparison.Ordinal)))
        {
            throw new ArgumentException("the entrypoint's arguments must not contain NUL characters");
        }

        if (request.Entrypoint.Sum(a => a.Length) > MaxEntrypointChars || request.RuntimeEnv.Length > MaxRuntimeEnvChars)
        {
            throw new ArgumentException($"a job's entrypoint must be at most {MaxEntrypointChars / 1024} KiB, and its runtime env {MaxRuntimeEnvChars >> 20} MiB");
        }

        if (request.Metadata.Sum(m => m.Key.Length + m.Value.Length) > MaxMetadataBytes)
        {
            throw new ArgumentException($"a job's metadata must be at most {MaxMetadataBytes / 1024} KiB of keys and values");
        }

        if (request.RuntimeEnv.Length == 0)
        {
            return;
        }

        RuntimeEnv env;
        try
        {
            env = RuntimeEnv.FromJson(request.RuntimeEnv);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or System.Text.Json.JsonException)
        {
            throw new ArgumentException($"the job's runtime env is invalid: {e.Message}", e);
        }

        if (env.WorkingDir is { } dir && !dir.Contains("://", StringComparison.Ordinal))
        {
            throw new ArgumentException($"the job's working_dir '{dir}' is a local path: upload it first (terrarium job submit --working-dir does) and give its pkg:// URI");
        }
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    private static partial Regex SubmissionId();

    private sealed class Submission(JobSubmission record, JobLog log)
    {
        public JobSubmission Record { get; } = record;

        public JobLog Log { get; } = log;

        /// <summary>Bytes of output in the state store's copy.</summary>
        public long StoredLogBytes { get; set; }
    }
}
