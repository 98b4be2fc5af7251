using System.Globalization;
using System.Threading.Channels;
using Terrarium.Protocol;

namespace Terrarium.Node.RuntimeEnvs;

/// <summary>
/// One build of one env on this node, as it happens: each step's start and end, what went wrong and
/// what to beware of, and every line its tools print as they print it. The lines go to the env's log
/// file (which <c>terrarium env logs</c> reads, and which survives the node), to whoever follows the
/// build, and — the steps only — to the sessions whose work waits for it.
/// </summary>
/// <remarks>
/// The build makes its log <see cref="Current"/>: the tools run deep inside preparers and builds they
/// share (a restore, a venv), and the log follows the async flow there as <c>Activity.Current</c> does.
/// </remarks>
internal sealed class SetupLog : IDisposable
{
    /// <summary>Past this, lines still go to the file and to followers, but are not kept for those who come later.</summary>
    private const int MaxKeptLines = 100_000;

    private static readonly AsyncLocal<SetupLog?> s_current = new();

    private readonly Lock _gate = new();
    private readonly string _nodeId;
    private readonly string _hash;
    private readonly TimeProvider _clock;
    private readonly StreamWriter? _file;
    private readonly List<string> _lines = [];
    private readonly HashSet<string> _printed = new(StringComparer.Ordinal);
    private readonly List<EnvSetupProgress> _steps = [];
    private readonly Dictionary<object, Action<EnvSetupProgress>> _watchers = [];
    private readonly List<ChannelWriter<string>> _followers = [];
    private readonly long _startedAt;
    private string _field = "";
    private long _fieldStartedAt;
    private bool _ended;

    public SetupLog(string folder, string nodeId, string hash, TimeProvider clock)
    {
        _nodeId = nodeId;
        _hash = hash;
        _clock = clock;
        _startedAt = clock.GetTimestamp();
        _fieldStartedAt = _startedAt;
        Path = FileOf(folder, hash);
        try
        {
            Directory.CreateDirectory(folder);
            var stream = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            FileStart = stream.Length;
            _file = new StreamWriter(stream) { AutoFlush = true };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The log is for people; a node that cannot write it still builds the env.
            Add("", $"(this log is not kept on disk: {e.Message})");
        }

        Add("", $"setting up env {hash} on node {nodeId}");
    }

    /// <summary>The log of the build this code runs for, if any.</summary>
    public static SetupLog? Current => s_current.Value;

    /// <summary>The env's log file: every build of the env on this node, one after another.</summary>
    public string Path { get; }

    /// <summary>Where this build's lines begin in <see cref="Path"/>: what comes before is earlier builds'.</summary>
    public long FileStart { get; }

    /// <summary>This build's lines so far.</summary>
    public string Text
    {
        get
        {
            lock (_gate)
            {
                return string.Join('\n', _lines);
            }
        }
    }

    /// <summary>The field whose step runs now; empty before the first.</summary>
    public string CurrentField
    {
        get
        {
            lock (_gate)
            {
                return _field;
            }
        }
    }

    /// <summary>Whether every line of <paramref name="output"/> is in this log already (a tool's output that a failure repeats).</summary>
    public bool HasPrinted(string output)
    {
        lock (_gate)
        {
            return output.Split('\n').Select(l => l.Trim()).All(l => l.Length == 0 || _printed.Contains(l));
        }
    }

    public static string FileOf(string folder, string hash) => System.IO.Path.Combine(folder, hash + ".log");

    /// <summary>Makes this the log of the code that runs from here in the calling async flow.</summary>
    public void MakeCurrent() => s_current.Value = this;

    public void StepStarted(string field)
    {
        lock (_gate)
        {
            _field = field;
            _fieldStartedAt = _clock.GetTimestamp();
        }

        Step(field, EnvSetupStage.EnvSetupStarted, "", 0);
    }

    public void StepFinished(string field) => Step(field, EnvSetupStage.EnvSetupFinished, "", StepSeconds());

    /// <summary>A line of a tool's output, or a note of Terrarium's own, in the step running now.</summary>
    public void Output(string line)
    {
        lock (_gate)
        {
            if (_printed.Count < MaxKeptLines)
            {
                _printed.Add(line.Trim());
            }
        }

        Add(CurrentField, line);
    }

    /// <summary>What the user should know although the setup goes on (a package version other than the one asked for).</summary>
    public void Warn(string text) => Step(CurrentField, EnvSetupStage.EnvSetupWarning, text, 0);

    public void Failed(string field, string message) => End(field, EnvSetupStage.EnvSetupFailed, message, StepSeconds());

    public void Ready() => End("", EnvSetupStage.EnvSetupReady, "", Seconds(_startedAt));

    /// <summary>
    /// Sends <paramref name="watcher"/> the steps so far and each one to come, once per <paramref name="key"/>
    /// (a session with many tasks for the env hears it once); nothing once the build has ended.
    /// </summary>
    public void Watch(object key, Action<EnvSetupProgress> watcher)
    {
        lock (_gate)
        {
            if (_ended || !_watchers.TryAdd(key, watcher))
            {
                return;
            }

            foreach (var step in _steps)
            {
                watcher(step);
            }
        }
    }

    /// <summary>The lines so far, then each new one; complete once the build has ended.</summary>
    public ChannelReader<string> Follow()
    {
        var channel = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
        lock (_gate)
        {
            foreach (var line in _lines)
            {
                channel.Writer.TryWrite(line);
            }

            if (_ended)
            {
                channel.Writer.TryComplete();
            }
            else
            {
                _followers.Add(channel.Writer);
            }
        }

        return channel.Reader;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _file?.Dispose();
        }
    }

    private void Step(string field, EnvSetupStage stage, string text, double seconds)
    {
        var step = new EnvSetupProgress { NodeId = _nodeId, EnvHash = _hash, Field = field, Stage = stage, Text = text, Seconds = seconds };
        lock (_gate)
        {
            _steps.Add(step);
            foreach (var watcher in _watchers.Values)
            {
                watcher(step);
            }
        }

        var duration = seconds.ToString("0.00", CultureInfo.InvariantCulture);
        Add(field, stage switch
        {
            EnvSetupStage.EnvSetupStarted => "started",
            EnvSetupStage.EnvSetupFinished => $"done in {duration} s",
            EnvSetupStage.EnvSetupWarning => $"warning: {text}",
            EnvSetupStage.EnvSetupFailed => $"failed after {duration} s: {text}",
            _ => $"ready in {duration} s",
        });
    }

    private void End(string field, EnvSetupStage stage, string text, double seconds)
    {
        Step(field, stage, text, seconds);
        lock (_gate)
        {
            _ended = true;
            _watchers.Clear();
            foreach (var follower in _followers)
            {
                follower.TryComplete();
            }

            _followers.Clear();
            _file?.Dispose();
        }
    }

    private void Add(string field, string text)
    {
        var line = $"{_clock.GetLocalNow():HH:mm:ss.fff} {(field.Length == 0 ? "env" : field),-11} {text}";
        lock (_gate)
        {
            if (_lines.Count < MaxKeptLines)
            {
                _lines.Add(line);
            }

            foreach (var follower in _followers)
            {
                follower.TryWrite(line);
            }

            try
            {
                _file?.WriteLine(line);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // A full disk loses log lines, not the build.
            }
        }
    }

    private double StepSeconds()
    {
        lock (_gate)
        {
            return Seconds(_fieldStartedAt);
        }
    }

    private double Seconds(long since) => Math.Max(_clock.GetElapsedTime(since).TotalSeconds, 0.001);
}
