using System.Collections.Concurrent;
using System.Diagnostics;
using Google.Protobuf;
using Terrarium.Node.Resources;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.Sessions;
using Terrarium.Node.Tasks;
using Terrarium.Protocol;
using Terrarium.Protocol.Transport;

namespace Terrarium.Node.Workers;

internal enum WorkerState
{
    /// <summary>Pre-started, not yet given a job or env.</summary>
    Warm,
    Starting,
    Idle,
    Busy,
    Dead,
}

/// <summary>
/// One worker process and its command stream. Its state belongs to its owner, which guards it. A
/// pre-started worker has no job, env or owner until <see cref="Bind"/> gives it one.
/// </summary>
internal sealed class WorkerProcess(string id, string jobId, JobCode jobCode, PreparedEnv env, string? actorId, IWorkerOwner? owner)
{
    private const int StderrTailLines = 30;
    private readonly Queue<string> _stderrTail = new();
    private BatchingWriter<WorkerCommand, WorkerCommandBatch>? _commands;
    private readonly Lock _processLock = new();
    private int _replacementDue;
    private int _startSlotHeld;
    private bool _killRequested;

    public string Id { get; } = id;

    public string JobId { get; private set; } = jobId;

    public JobCode JobCode { get; private set; } = jobCode;

    public PreparedEnv Env { get; private set; } = env;

    public string? ActorId { get; private set; } = actorId;

    /// <summary>Null while the worker is pre-started and unbound.</summary>
    public IWorkerOwner? Owner { get; private set; } = owner;

    public bool IsBound => Owner is not null;

    public string PoolKey => JobId + "|" + Env.Hash;

    public Process? Process { get; private set; }

    public int Pid { get; private set; }

    public WorkerState State { get; set; } = WorkerState.Starting;

    /// <summary>
    /// Tasks sent to it (or to be sent once it attaches), in order: the first runs, the rest wait
    /// in the worker. Empty for an idle worker.
    /// </summary>
    public LinkedList<TaskRecord> Assigned { get; } = new();

    /// <summary>Resources leased to it while it has tasks: one task's demand, shared by the tasks sent ahead.</summary>
    public ResourceSet Leased { get; set; } = ResourceSet.Empty;

    /// <summary>A Reclaim was sent and its Returned has not arrived yet.</summary>
    public bool ReclaimPending { get; set; }

    /// <summary>When the task at the head of <see cref="Assigned"/> became the head.</summary>
    public DateTimeOffset HeadSince { get; set; }

    /// <summary>Results it uploaded (too large for its WorkDone), by work id, until their WorkDone arrives.</summary>
    public ConcurrentDictionary<string, ByteString> Uploads { get; } = new(StringComparer.Ordinal);

    /// <summary>Its running task waits on another object and has lent its resources back.</summary>
    public bool Blocked { get; set; }

    /// <summary>The task that is blocked, when the worker said which; empty otherwise.</summary>
    public string BlockedTaskId { get; set; } = "";

    public DateTimeOffset IdleSince { get; set; }

    public int TasksRun { get; set; }

    public bool IsAttached => _commands is not null;

    /// <summary>Taken from the pre-started workers: a replacement is due once it has sent its first events.</summary>
    public void MarkReplacementDue() => Volatile.Write(ref _replacementDue, 1);

    /// <summary>True once, for whoever first sees that a replacement is due.</summary>
    public bool ClaimReplacement() => Interlocked.Exchange(ref _replacementDue, 0) == 1;

    /// <summary>Gives a pre-started worker its job, env and owner.</summary>
    public void Bind(string jobId, JobCode jobCode, PreparedEnv env, string? actorId, IWorkerOwner owner)
    {
        JobId = jobId;
        JobCode = jobCode;
        Env = env;
        ActorId = actorId;
        State = WorkerState.Starting;
        Owner = owner;
    }

    /// <summary>Completes once the process has exited and its owner was told.</summary>
    public TaskCompletionSource HasExited { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once every event the worker sent has been read and handled.</summary>
    public TaskCompletionSource EventsRead { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Attach(BatchingWriter<WorkerCommand, WorkerCommandBatch> commands) => _commands = commands;

    /// <summary>Queues a command; false once the worker's stream has ended.</summary>
    public bool Send(WorkerCommand command) => _commands?.TryWrite(command) ?? false;

    /// <summary>Asks the worker to exit by ending its command stream.</summary>
    public void Shutdown() => _commands?.Complete();

    /// <summary>Whether <see cref="Kill"/> was called: a worker killed before its process started never starts.</summary>
    public bool KillRequested
    {
        get
        {
            lock (_processLock)
            {
                return _killRequested;
            }
        }
    }

    /// <summary>Records the started process; false (and the process is killed) when the worker was killed meanwhile.</summary>
    public bool SetProcess(Process process)
    {
        lock (_processLock)
        {
            Process = process;
            Pid = process.Id;
            if (!_killRequested)
            {
                return true;
            }
        }

        Kill();
        return false;
    }

    /// <summary>True once: the worker gives back its place among the workers allowed to start at once.</summary>
    public bool ReleaseStartSlot() => Interlocked.Exchange(ref _startSlotHeld, 0) == 1;

    /// <summary>Marks that the worker holds a place among the workers starting at once.</summary>
    public void HoldStartSlot() => Volatile.Write(ref _startSlotHeld, 1);

    public void Kill()
    {
        Process? process;
        lock (_processLock)
        {
            _killRequested = true;
            process = Process;
        }

        try
        {
            process?.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }

    public void RecordStderr(string line)
    {
        lock (_stderrTail)
        {
            _stderrTail.Enqueue(line);
            if (_stderrTail.Count > StderrTailLines)
            {
                _stderrTail.Dequeue();
            }
        }
    }

    /// <summary>The last lines the worker wrote to stderr, to explain a crash.</summary>
    public string StderrTail()
    {
        lock (_stderrTail)
        {
            return string.Join('\n', _stderrTail);
        }
    }
}
