using Terrarium.Protocol;

namespace Terrarium.Head.Jobs;

/// <summary>The nodes' side of submitted jobs: which node runs which driver, and what their heartbeats say of them.</summary>
internal sealed partial class JobSubmissions
{
    /// <summary>
    /// A live node's heartbeat: records what it says of its drivers, hands it a pending job if one
    /// waits for a node, and tells it (in <paramref name="reply"/>) which drivers to start, stop and
    /// forget.
    /// </summary>
    /// <returns>The jobs whose drivers ended: the caller ends them, so that their tasks and actors end now.</returns>
    public async Task<List<string>> OnHeartbeatAsync(string nodeId, IReadOnlyCollection<JobDriverState> drivers, HeartbeatReply reply)
    {
        var changed = new List<string>();
        var jobsToEnd = new List<string>();
        lock (_lock)
        {
            var reported = drivers.ToDictionary(d => d.SubmissionId, StringComparer.Ordinal);
            foreach (var driver in drivers)
            {
                if (!_jobs.TryGetValue(driver.SubmissionId, out var submission) || submission.Record.NodeId != nodeId || IsEnded(submission.Record))
                {
                    // Recorded already, deleted, or unknown to this head (restarted without Redis):
                    // an ended driver is forgotten; a running one of a job that ended here (stopped
                    // before its start was known, or its node declared dead and back) is stopped; a
                    // running one of an unknown job runs on, untracked.
                    var over = driver.Exited || driver.Failure.Length > 0;
                    if (over || submission is not null)
                    {
                        reply.ForgetJobDrivers.Add(driver.SubmissionId);
                    }

                    if (!over && submission is not null)
                    {
                        reply.StopJobDrivers.Add(driver.SubmissionId);
                    }

                    continue;
                }

                if (Record(submission, driver))
                {
                    changed.Add(submission.Record.SubmissionId);
                    if (IsEnded(submission.Record))
                    {
                        reply.ForgetJobDrivers.Add(driver.SubmissionId);
                        if (submission.Record.JobId.Length > 0)
                        {
                            jobsToEnd.Add(submission.Record.JobId);
                        }
                    }
                }
            }

            foreach (var submission in _jobs.Values.Where(s => !IsEnded(s.Record)))
            {
                var record = submission.Record;
                if (record.NodeId.Length == 0)
                {
                    // The first live node to ask takes a waiting job.
                    record.NodeId = nodeId;
                    record.Message = $"starting its driver on node {nodeId}";
                    changed.Add(record.SubmissionId);
                }

                if (record.NodeId != nodeId)
                {
                    continue;
                }

                if (!reported.ContainsKey(record.SubmissionId))
                {
                    if (record.State == Running || record.StopRequested)
                    {
                        // Running: the node no longer has a driver it ran (it restarted under the same
                        // id). Stopped: never start it (should the node start it from an earlier
                        // answer, the driver of an ended job is stopped as it is reported).
                        End(submission, record.StopRequested ? Stopped : Failed,
                            record.StopRequested ? "stopped before its driver started" : $"node {nodeId} no longer runs its driver (the node restarted)");
                        changed.Add(record.SubmissionId);
                        continue;
                    }

                    reply.StartJobDrivers.Add(record.Clone());
                }

                if (record.StopRequested)
                {
                    reply.StopJobDrivers.Add(record.SubmissionId);
                }
            }
        }

        foreach (var id in changed.Distinct(StringComparer.Ordinal))
        {
            await SaveAsync(id).ConfigureAwait(false);
        }

        return jobsToEnd;
    }

    /// <summary>Fails the jobs whose driver's node died: their drivers died with it.</summary>
    /// <returns>Their jobs, for the caller to end.</returns>
    public async Task<List<string>> FailThoseOfGoneNodesAsync()
    {
        var failed = new List<JobSubmission>();
        lock (_lock)
        {
            foreach (var submission in _jobs.Values.Where(s => !IsEnded(s.Record) && s.Record.NodeId.Length > 0 && cluster.IsGone(s.Record.NodeId)))
            {
                End(submission, Failed, submission.Record.State == Running
                    ? $"node {submission.Record.NodeId} died, and its driver with it"
                    : $"node {submission.Record.NodeId} died before its driver started");
                failed.Add(submission.Record.Clone());
            }
        }

        foreach (var record in failed)
        {
            await SaveAsync(record.SubmissionId).ConfigureAwait(false);
        }

        return failed.Where(r => r.JobId.Length > 0).Select(r => r.JobId).ToList();
    }

    /// <summary>Under the lock: what a node says of a job's driver. True when the record changed.</summary>
    private bool Record(Submission submission, JobDriverState driver)
    {
        var record = submission.Record;
        if (driver.Failure.Length > 0)
        {
            End(submission, record.StopRequested ? Stopped : Failed, driver.Failure);
            return true;
        }

        if (driver.Exited)
        {
            (record.Exited, record.ExitCode) = (true, driver.ExitCode);
            if (driver.Pid > 0)
            {
                record.DriverPid = driver.Pid;
            }

            if (record.StartedUnixMs == 0)
            {
                record.StartedUnixMs = Now();
            }

            if (record.StopRequested)
            {
                End(submission, Stopped, $"stopped by a user (its driver exited with status {driver.ExitCode})");
            }
            else if (driver.ExitCode == 0)
            {
                End(submission, Succeeded, "");
            }
            else
            {
                End(submission, Failed, $"its driver exited with status {driver.ExitCode}");
            }

            return true;
        }

        if (driver.Pid > 0 && record.State == Pending)
        {
            record.State = Running;
            record.DriverPid = driver.Pid;
            record.StartedUnixMs = Now();
            record.Message = record.StopRequested ? "stopping its driver" : "";
            submission.Log.Signal();
            return true;
        }

        return false;
    }
}
