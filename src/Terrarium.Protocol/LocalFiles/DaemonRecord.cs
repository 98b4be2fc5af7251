using System.Text.Json;

namespace Terrarium.Protocol.LocalFiles;

/// <summary>
/// What a head or node daemon started by <c>terrarium start</c> tells other commands on this machine:
/// written into its session folder once it serves, so that <c>terrarium stop</c>, <c>status</c> and a
/// driver's <c>Address = "auto"</c> find it. The folder is this user's alone (0700) and the file 0600,
/// because it holds the cluster token. A daemon that died leaves no live record: its session folder
/// is no longer locked.
/// </summary>
public sealed record DaemonRecord
{
    private const string FileName = "daemon.json";

    /// <summary>"head" (a head with its node) or "node".</summary>
    public required string Role { get; init; }

    /// <summary>The daemon's process id.</summary>
    public required int Pid { get; init; }

    /// <summary>The head's address, as drivers and nodes reach it.</summary>
    public required string HeadAddress { get; init; }

    /// <summary>The id of the daemon's node.</summary>
    public required string NodeId { get; init; }

    /// <summary>The cluster token.</summary>
    public required string Token { get; init; }

    /// <summary>
    /// How clients on this machine reach the cluster over TCP: <see cref="Security.ClusterTls.ToLine"/>
    /// of its trust (the CA, or insecure), without any key.
    /// </summary>
    public string Tls { get; init; } = "";

    /// <summary>Where the daemon's output goes; empty in the foreground.</summary>
    public string LogFile { get; init; } = "";

    /// <summary>The session folder the record was read from.</summary>
    public string SessionDirectory { get; init; } = "";

    /// <summary>Writes the record into a daemon's session folder (0600).</summary>
    public void Write(string sessionDirectory)
    {
        var path = Path.Combine(sessionDirectory, FileName);
        var pending = path + ".new";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = PrivateDirectory.OwnerReadWrite;
        }

        using (var file = new FileStream(pending, options))
        {
            JsonSerializer.Serialize(file, this with { SessionDirectory = "" });
        }

        File.Move(pending, path, overwrite: true);
    }

    /// <summary>The records of this user's live daemons under <paramref name="runtimeRoot"/> (default: the user's runtime folder).</summary>
    public static IReadOnlyList<DaemonRecord> FindLive(string? runtimeRoot = null)
    {
        var root = runtimeRoot ?? PrivateDirectory.ForRuntime();
        var found = new List<DaemonRecord>();
        foreach (var folder in Directory.EnumerateDirectories(root))
        {
            var path = Path.Combine(folder, FileName);
            if (!File.Exists(path) || !SessionFolder.IsLive(folder))
            {
                continue;
            }

            try
            {
                if (JsonSerializer.Deserialize<DaemonRecord>(File.ReadAllText(path)) is { } record)
                {
                    found.Add(record with { SessionDirectory = folder });
                }
            }
            catch (Exception e) when (e is IOException or JsonException)
            {
                // Being written or removed right now: not a daemon to report.
            }
        }

        return found;
    }
}
