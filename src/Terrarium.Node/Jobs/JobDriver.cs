using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Mono.Unix.Native;
using Terrarium.Node.Membership;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.Service;
using Terrarium.Protocol;
using Terrarium.Protocol.Jobs;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Node.Jobs;

/// <summary>
/// One submitted job's driver: a process started in the job's working dir (unpacked from the head's
/// store) with the job's env vars, told where the cluster is and which submission it is, so that
/// <c>Cluster.InitAsync()</c> with no options joins it with the job's runtime env as its default.
/// It leads a process group of its own (<c>setsid</c>): stopping the job signals the group, and
/// what the driver leaves running when it exits is killed with it. Its output (standard output and
/// error, as they come) goes to a file and from there to the head. It counts as exited only once
/// the head has all its output: a follower of its logs then misses nothing.
/// </summary>
internal sealed class JobDriver(JobSubmission job, NodeOptions options, ClusterCredentials credentials, PackageCache packages, HeadLink head, ILogger logger)
{
    /// <summary>How long a driver asked to stop has after SIGTERM before it and its children are killed.</summary>
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);

    /// <summary>How long the output of processes the driver left is read after it exited and they were killed.</summary>
    private static readonly TimeSpan DrainGrace = TimeSpan.FromSeconds(5);

    private const int ChunkBytes = 256 << 10;

    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _shutdown = new();
    private readonly SemaphoreSlim _outputArrived = new(0);
    private readonly Lock _outputGate = new();
    private readonly string _outputFile = Path.Combine(options.SessionDirectory, "job-drivers", job.SubmissionId + ".log");
    // The driver's pid once started (its process group's id too), 0 before; read by Stop on another thread.
    private volatile int _pid;
    private Task _run = Task.CompletedTask;
    private long _written;
    private int _exitCode;
    private string _failure = "";
    private volatile bool _ended;
    private volatile bool _outputSent;

    /// <summary>Where it runs, once known: its unpacked working dir, or a folder of its own.</summary>
    public string? WorkingDir { get; private set; }

    public void Start() => _run = Task.Run(RunAsync);

    public JobDriverState State()
    {
        var over = _ended && _outputSent;
        return new JobDriverState
        {
            SubmissionId = job.SubmissionId,
            Pid = _pid,
            Exited = over && _failure.Length == 0,
            ExitCode = _exitCode,
            Failure = over ? _failure : "",
            OutputBytes = Interlocked.Read(ref _written),
        };
    }

    /// <summary>SIGTERM, then, past <see cref="StopGrace"/>, SIGKILL for it and its children; one not started yet never starts.</summary>
    public void Stop()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        _stopping.Cancel();
        SignalStop();
    }

    /// <summary>SIGTERM to the driver's group, SIGKILL past the grace; nothing before it started (it then does not start) or once it ended.</summary>
    private void SignalStop()
    {
        if (_pid > 0 && !_ended)
        {
            NodeLog.JobDriverStopping(logger, job.SubmissionId, _pid);
            SignalGroup(Signum.SIGTERM);
            _ = Task.Delay(StopGrace).ContinueWith(_ => SignalGroup(Signum.SIGKILL), TaskScheduler.Default);
        }
    }

    /// <summary>The node stops: the driver and its group are killed, what it printed is sent for a moment more, and its output file goes.</summary>
    public async Task KillAsync()
    {
        _stopping.Cancel();
        SignalGroup(Signum.SIGKILL);
        _shutdown.CancelAfter(DrainGrace);
        await _run.ConfigureAwait(false);
        DeleteOutput();
    }

    public void DeleteOutput()
    {
        try
        {
            File.Delete(_outputFile);
        }
        catch (IOException)
        {
            // Still being written as the node stops: the session folder goes with the node.
        }
    }

    private async Task RunAsync()
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_outputFile)!);
            var output = new FileStream(_outputFile, FileMode.Create, FileAccess.Write, FileShare.Read, 1, FileOptions.Asynchronous);
            var sender = Task.Run(SendOutputAsync);
            await using (output.ConfigureAwait(false))
            {
                try
                {
                    await RunDriverAsync(output).ConfigureAwait(false);
                }
                catch (Exception e) when (e is JobDriverFailure or PackageFetchException or IOException or UnauthorizedAccessException)
                {
                    _failure = e is JobDriverFailure ? e.Message : $"its driver could not start: {e.Message}";
                }
                catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
                {
                    _failure = "stopped before its driver started";
                }
            }

            _ended = true;
            _outputArrived.Release();
            try
            {
                await sender.ConfigureAwait(false);
            }
            catch (Exception e) when (_shutdown.IsCancellationRequested && e is OperationCanceledException or RpcException)
            {
                // The node stops: what the head did not get in time is lost with it.
                _outputSent = true;
            }
        }
        catch (Exception e)
        {
            // Whatever went wrong, the head hears it ended.
            _failure = $"its driver could not run: {e.Message}";
            (_ended, _outputSent) = (true, true);
        }

        NodeLog.JobDriverEnded(logger, job.SubmissionId, _failure.Length > 0 ? _failure : $"exit status {_exitCode}");
    }

    private async Task RunDriverAsync(FileStream output)
    {
        var env = job.RuntimeEnv.Length > 0 ? RuntimeEnv.FromJson(job.RuntimeEnv) : null;
        WorkingDir = env?.WorkingDir is { } uri
            ? await packages.GetDirectoryAsync(uri, _stopping.Token).ConfigureAwait(false)
            : Directory.CreateDirectory(Path.Combine(options.SessionDirectory, "job-drivers", job.SubmissionId)).FullName;
        // A relative program path is the working dir's, as a shell in it would take it.
        var program = job.Entrypoint[0].Contains('/', StringComparison.Ordinal) ? Path.Combine(WorkingDir, job.Entrypoint[0]) : job.Entrypoint[0];
        if (program.Contains('/', StringComparison.Ordinal) && !File.Exists(program))
        {
            throw new JobDriverFailure($"its entrypoint '{job.Entrypoint[0]}' could not be started on node {options.NodeId}: no such file");
        }

        // setsid (it execs, keeping the pid) makes the driver lead a process group of its own.
        var start = new ProcessStartInfo("setsid", [program, .. job.Entrypoint.Skip(1)])
        {
            WorkingDirectory = WorkingDir,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var (name, value) in env?.EnvVars ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        foreach (var (name, value) in ClusterVariables())
        {
            start.Environment[name] = value;
        }

        _stopping.Token.ThrowIfCancellationRequested();
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("Process.Start returned null");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new JobDriverFailure($"its entrypoint '{job.Entrypoint[0]}' could not be started on node {options.NodeId}: {e.Message}");
        }

        using var driver = process;
        _pid = driver.Id;
        NodeLog.JobDriverStarted(logger, job.SubmissionId, _pid, string.Join(' ', job.Entrypoint));
        if (_stopping.IsCancellationRequested)
        {
            // Stopped while it was starting: Stop found no process to signal.
            SignalStop();
        }

        driver.StandardInput.Close();
        var pumps = Task.WhenAll(PumpAsync(driver.StandardOutput.BaseStream, output), PumpAsync(driver.StandardError.BaseStream, output));
        await driver.WaitForExitAsync().ConfigureAwait(false);
        _exitCode = driver.ExitCode;
        // The job is over: what the driver left running goes too (it would hold the output pipes open).
        SignalGroup(Signum.SIGKILL);
        try
        {
            await pumps.WaitAsync(DrainGrace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A process that left the group holds the pipes: its later output is not the job's.
        }
    }

    /// <summary>What lets the driver's <c>Cluster.InitAsync()</c> join this cluster as this submission, with the job's runtime env.</summary>
    private Dictionary<string, string> ClusterVariables()
    {
        var variables = new Dictionary<string, string>
        {
            ["TERRARIUM_ADDRESS"] = options.Head!.ToString(),
            [ClusterToken.EnvironmentVariable] = credentials.Token,
            [SubmittedJob.SubmissionIdVariable] = job.SubmissionId,
            [SubmittedJob.RuntimeEnvVariable] = job.RuntimeEnv,
        };
        if (credentials.Tls.IsInsecure)
        {
            variables[ClusterTrust.InsecureEnvironmentVariable] = "1";
        }
        else if (credentials.Tls.Authorities.Count > 0)
        {
            variables[CaHash.EnvironmentVariable] = CaHash.Of(credentials.Tls.Authorities[0]);
        }

        return variables;
    }

    private async Task PumpAsync(Stream from, FileStream to)
    {
        var buffer = new byte[64 << 10];
        while (await from.ReadAsync(buffer).ConfigureAwait(false) is > 0 and var read)
        {
            lock (_outputGate)
            {
                to.Write(buffer, 0, read);
                to.Flush();
                Interlocked.Add(ref _written, read);
            }

            _outputArrived.Release();
        }
    }

    /// <summary>Sends the output to the head as it comes, from what the head says it has, until all is sent after the driver ended.</summary>
    private async Task SendOutputAsync()
    {
        long sent = 0;
        await using var reader = new FileStream(_outputFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.Asynchronous);
        var buffer = new byte[ChunkBytes];
        while (true)
        {
            var written = Interlocked.Read(ref _written);
            if (sent >= written)
            {
                if (_ended)
                {
                    _outputSent = true;
                    return;
                }

                await _outputArrived.WaitAsync(_shutdown.Token).ConfigureAwait(false);
                // Gathers what comes in a moment into one call.
                await Task.Delay(100, _shutdown.Token).ConfigureAwait(false);
                continue;
            }

            reader.Position = sent;
            var read = await reader.ReadAsync(buffer.AsMemory(0, (int)Math.Min(ChunkBytes, written - sent)), _shutdown.Token).ConfigureAwait(false);
            try
            {
                var received = await head.AppendJobLogAsync(new AppendJobLogRequest
                {
                    NodeId = options.NodeId, SubmissionId = job.SubmissionId, Offset = sent, Data = Google.Protobuf.ByteString.CopyFrom(buffer, 0, read),
                }, _shutdown.Token).ConfigureAwait(false);
                // From where the head is, even behind: the whole output is in the file.
                sent = Math.Min(received, written);
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.NotFound or StatusCode.InvalidArgument or StatusCode.Unauthenticated or StatusCode.PermissionDenied)
            {
                // The head no longer has the job (deleted, or restarted without Redis), or refuses it for good: nothing to send it.
                _outputSent = true;
                return;
            }
            catch (RpcException e) when (!_shutdown.IsCancellationRequested)
            {
                NodeLog.HeadCallFailed(logger, "AppendJobLog", e.Status.Detail);
                await Task.Delay(TimeSpan.FromSeconds(1), _shutdown.Token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Signals the driver's process group (its id is the driver's pid); one that is gone is no error.</summary>
    private void SignalGroup(Signum signal)
    {
        if (_pid > 0)
        {
            Syscall.kill(-_pid, signal);
        }
    }

    /// <summary>Why a driver could not start, as its job's message says it.</summary>
    private sealed class JobDriverFailure(string message) : Exception(message);
}
