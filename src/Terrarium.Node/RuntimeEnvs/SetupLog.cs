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
    /// <summary>Lines kept in memory while the build runs, for followers who come later; the file has them all.</summary>
    private const int MaxKeptLines = 20_000;

    /// <summary>How much of the log's end a failure carries to the work that waited (the file has the rest).</summary>
    private const int MaxFailureLogChars = 64 << 10;

    /// <summary>Past this size the file starts again, the earlier builds' lines kept in one <c>.old</c> file.</summary>
    private const long MaxFileBytes = 8 << 20;

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
    private int _linesLeftOut;
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
            if (File.Exists(Path) && new FileInfo(Path).Length > MaxFileBytes)
            {
                File.Move(Path, Path + ".old", overwrite: true);
            }

            var stream = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            FileStart = stream.Length;
            _file = new StreamWriter(stream) { AutoFlush = true };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The log is for people; a node that cannot write it still builds the env.
            Add("", $"(this log is not kept on disk: {e.Message})");
        }

        Add("", string.Create(CultureInfo.InvariantCulture, $"setting up env {hash} on node {nodeId} ({clock.GetUtcNow():yyyy-MM-dd HH:mm:ss} UTC)"));
    }

    /// <summary>The log of the build this code runs for, if any.</summary>
    public static SetupLog? Current => s_current.Value;

    /// <summary>The env's log file: every build of the env on this node, one after another.</summary>
    public string Path { get; }

    /// <summary>Where this build's lines begin in <see cref="Path"/>: what comes before is earlier builds'.</summary>
    public long FileStart { get; }

    /// <summary>
    /// The env's own <c>env_vars</c>, which the tools that build its Python environments (pip and
    /// conda on the node) see too, as in Ray: a private index's address or credentials, say.
    /// </summary>
    public IReadOnlyDictionary<string, string> ToolEnvironment { get; set; } = new Dictionary<string, string>();

    /// <summary>The field whose step runs now; empty before the first and between steps.</summary>
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

    public void StepFinished(string field)
    {
        Step(field, EnvSetupStage.EnvSetupFinished, "", StepSeconds());
        lock (_gate)
        {
            _field = "";
        }
    }

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

    /// <summary>
    /// Ends the build as failed: the log that the work which waited gets — this build's lines (the
    /// end of them, when long) and <paramref name="details"/> unless its tools printed them already.
    /// </summary>
    public string Failed(string field, string message, string details)
    {
        string extra;
        lock (_gate)
        {
            extra = details.Split('\n').Select(l => l.Trim()).All(l => l.Length == 0 || _printed.Contains(l)) ? "" : "\n" + details;
        }

        End(field, EnvSetupStage.EnvSetupFailed, message, StepSeconds());
        lock (_gate)
        {
            var text = string.Join('\n', _lines) + extra;
            _lines.Clear();
            return text.Length <= MaxFailureLogChars
                ? text
                : $"(the log's first {text.Length - MaxFailureLogChars} characters are left out: terrarium env logs {_hash})\n" + text[^MaxFailureLogChars..];
        }
    }

    public void Ready()
    {
        End("", EnvSetupStage.EnvSetupReady, "", Seconds(_startedAt));
        lock (_gate)
        {
            _lines.Clear();
        }
    }

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

    /// <summary>
    /// This build's lines so far, then each new one until the build ends or <paramref name="ct"/> is
    /// cancelled; null once the build has ended (its lines are all in the file then).
    /// </summary>
    public ChannelReader<string>? Follow(CancellationToken ct)
    {
        var channel = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
        lock (_gate)
        {
            if (_ended)
            {
                return null;
            }

            foreach (var line in _lines)
            {
                channel.Writer.TryWrite(line);
            }

            _followers.Add(channel.Writer);
        }

        ct.Register(() =>
        {
            lock (_gate)
            {
                _followers.Remove(channel.Writer);
            }

            channel.Writer.TryComplete();
        });
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
            _printed.Clear();
            _steps.Clear();
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
        var line = string.Create(CultureInfo.InvariantCulture, $"{_clock.GetUtcNow():HH:mm:ss.fff} {(field.Length == 0 ? "env" : field),-11} {text}");
        lock (_gate)
        {
            if (_lines.Count < MaxKeptLines)
            {
                _lines.Add(line);
            }
            else if (_linesLeftOut++ == 0)
            {
                _lines.Add($"(more lines than {MaxKeptLines}: the rest are in the node's log file, {Path})");
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
