using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Terrarium.Node.Membership;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Protocol;
using Terrarium.Protocol.Security;

namespace Terrarium.Node.Jobs;

/// <summary>
/// The drivers of submitted jobs that the head hands this node with its heartbeat replies: started
/// once each, reported with every heartbeat until the head has recorded how they ended, stopped
/// when their job is, and killed when the node stops.
/// </summary>
internal sealed class JobDrivers(NodeOptions options, ClusterCredentials credentials, PackageCache packages, HeadLink head, ILogger<JobDrivers> logger)
    : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, JobDriver> _drivers = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private bool _disposed;

    /// <summary>What each driver is doing, for the next heartbeat.</summary>
    public List<JobDriverState> States() => _drivers.Values.Select(d => d.State()).ToList();

    /// <summary>The working dirs the drivers run in: the cache's collector leaves them be.</summary>
    public IEnumerable<string> WorkingDirs() => _drivers.Values.Select(d => d.WorkingDir).OfType<string>();

    /// <summary>Starts the job's driver, unless this node runs (or ran) it already.</summary>
    public void Start(JobSubmission job)
    {
        lock (_gate)
        {
            if (_disposed || _drivers.ContainsKey(job.SubmissionId))
            {
                return;
            }

            var driver = new JobDriver(job, options, credentials, packages, head, logger);
            _drivers[job.SubmissionId] = driver;
            driver.Start();
        }
    }

    public void Stop(string submissionId)
    {
        if (_drivers.TryGetValue(submissionId, out var driver))
        {
            driver.Stop();
        }
    }

    /// <summary>The head has recorded how the driver ended: it is reported no more.</summary>
    public void Forget(string submissionId)
    {
        if (_drivers.TryGetValue(submissionId, out var driver) && driver.State() is { } state && (state.Exited || state.Failure.Length > 0))
        {
            _drivers.TryRemove(submissionId, out _);
            driver.DeleteOutput();
        }
    }

    /// <summary>The node stops: its drivers die with it (the head fails their jobs).</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            _disposed = true;
        }

        await Task.WhenAll(_drivers.Values.Select(d => d.KillAsync())).ConfigureAwait(false);
    }
}
