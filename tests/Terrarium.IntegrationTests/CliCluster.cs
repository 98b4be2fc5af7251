using System.Diagnostics;
using System.Text.RegularExpressions;
using Mono.Unix.Native;

namespace Terrarium.IntegrationTests;

/// <summary>
/// A cluster started as users start one: <c>terrarium start --head</c> and <c>terrarium start
/// --address</c> as real processes (in the foreground, so the test owns their pids), each node with
/// its own cache folder and resources, all in runtime and config folders of the test's own — so
/// that <c>terrarium stop</c> here can never reach a cluster of the machine's user.
/// </summary>
public sealed partial class CliCluster : IAsyncDisposable
{
    public const string Token = "cli-cluster-tests-token-0123456789";
    private readonly List<Daemon> _daemons = [];
    private string[] _headArguments = [];
    private string _headResources = "{}";

    private CliCluster(string scratch)
    {
        Scratch = scratch;
        RuntimeDirectory = Protocol.LocalFiles.PrivateDirectory.Create(Path.Combine(scratch, "run"));
    }

    public static string CliAssembly => Path.Combine(AppContext.BaseDirectory, "Terrarium.Cli.dll");

    public string Scratch { get; }

    /// <summary>What <c>XDG_RUNTIME_DIR</c> is for the cluster's processes.</summary>
    public string RuntimeDirectory { get; }

    public string HeadAddress { get; private set; } = "";

    /// <summary>The base URL of the head's HTTP API, as its start printed it.</summary>
    public string HttpAddress { get; private set; } = "";

    /// <summary>The pin of the cluster's CA, from the head's join line.</summary>
    public string CaHash { get; private set; } = "";

    /// <summary>Where the head keeps its CA and the token: <c>XDG_CONFIG_HOME</c> of the cluster's processes.</summary>
    public string ConfigDirectory => Path.Combine(Scratch, "config");

    /// <summary>What a raw gRPC client that trusts the cluster's CA holds.</summary>
    public Protocol.Security.ClusterCredentials Credentials
    {
        get
        {
            var authorities = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
            authorities.ImportFromPemFile(Path.Combine(ConfigDirectory, "terrarium", "ca.pem"));
            return new(Token, Protocol.Security.ClusterTls.Trusting(authorities));
        }
    }

    public IReadOnlyList<Daemon> Daemons => _daemons;

    public ClusterOptions DriverOptions => CaHash.Length > 0
        ? new() { Address = HeadAddress, Token = Token, CaHash = CaHash, LogToDriver = false }
        : new() { Address = HeadAddress, Token = Token, Insecure = true, LogToDriver = false };

    /// <summary>
    /// A head whose node has <paramref name="headResources"/>, and a node per entry of
    /// <paramref name="nodeResources"/>; one CPU each. No head at all for null: only the folders.
    /// </summary>
    public static Task<CliCluster> StartAsync(string? headResources, params string[] nodeResources) =>
        StartAsync(headResources, [], nodeResources);

    /// <summary>As <see cref="StartAsync(string?, string[])"/>, with more options for the head (<c>--redis</c>).</summary>
    public static async Task<CliCluster> StartAsync(string? headResources, string[] headArguments, params string[] nodeResources)
    {
        var cluster = new CliCluster(Directory.CreateTempSubdirectory("terrarium-cli-").FullName);
        if (headResources is null)
        {
            return cluster;
        }

        try
        {
            await cluster.StartHeadAsync(headResources, headArguments);
            foreach (var resources in nodeResources)
            {
                await cluster.AddNodeAsync(resources);
            }

            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Environment variables of the cluster's processes beyond the folders', such as <c>HOME</c>;
    /// set before the head starts (after <c>StartAsync(null)</c>).
    /// </summary>
    public Dictionary<string, string> Environment { get; } = [];

    /// <summary>How <c>terrarium</c> is run: the program and the arguments before the command's own. Default: the CLI built beside the tests.</summary>
    public IReadOnlyList<string> Command { get; set; } = [WorkerDotnet(), CliAssembly];

    /// <summary>The working directory of the cluster's processes. Default: the test's.</summary>
    public string? WorkingDirectory { get; set; }

    /// <summary>The folder each daemon's cache folder is made in. Default: <see cref="Scratch"/>.</summary>
    public string CacheRoot { get; set; } = "";

    /// <summary>Starts the head, for a cluster made with <c>StartAsync(null)</c>.</summary>
    public async Task StartHeadAsync(string headResources, params string[] headArguments)
    {
        _headArguments = headArguments;
        _headResources = headResources;
        var head = await StartDaemonAsync(["--head", "--port", "0", .. DeathTimeout(headArguments), .. headArguments], headResources);
        HeadAddress = head.HeadAddress;
        CaHash = head.CaHash;
        HttpAddress = head.HttpAddress;
    }

    /// <summary>Starts the head again on its address, as a service manager restarts a crashed one; it replaces the old one in <see cref="Daemons"/>.</summary>
    public async Task RestartHeadAsync()
    {
        var port = HeadAddress[(HeadAddress.LastIndexOf(':') + 1)..];
        var head = await StartDaemonAsync(["--head", "--port", port, .. DeathTimeout(_headArguments), .. _headArguments], _headResources);
        _daemons.Remove(head);
        _daemons[0] = head;
        HttpAddress = head.HttpAddress;
    }

    public Task<Daemon> AddNodeAsync(string resources) =>
        StartDaemonAsync(CaHash.Length > 0 ? ["--address", HeadAddress, "--ca-hash", CaHash] : ["--address", HeadAddress, "--insecure"], resources);

    /// <summary>Starts a node that joins with <paramref name="joinArguments"/> (its own TLS options) instead of the head's pin.</summary>
    public Task<Daemon> AddNodeAsync(string resources, params string[] joinArguments) =>
        StartDaemonAsync(["--address", HeadAddress, .. joinArguments], resources);

    /// <summary>Runs <c>terrarium</c> to completion with the cluster's folders: its exit code and output.</summary>
    public async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] arguments)
    {
        using var process = Process.Start(StartInfo(arguments))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        return (process.ExitCode, await stdout, await stderr);
    }

    public async ValueTask DisposeAsync()
    {
        // Nodes first, then the head: as `terrarium stop` does.
        foreach (var daemon in Enumerable.Reverse(_daemons))
        {
            await daemon.StopAsync();
        }

        // And what a test started in the background: this folder's daemons are the test's alone.
        await RunAsync("stop", "--grace", "10");

        try
        {
            Directory.Delete(Scratch, recursive: true);
        }
        catch (IOException)
        {
            // A worker's log may still be closing.
        }
    }

    /// <summary>Nodes are declared dead after 3 s, unless the test's head arguments say otherwise.</summary>
    private static string[] DeathTimeout(string[] headArguments) =>
        headArguments.Contains("--node-death-timeout") ? [] : ["--node-death-timeout", "3"];

    private async Task<Daemon> StartDaemonAsync(string[] role, string resources)
    {
        var cache = Path.Combine(CacheRoot.Length > 0 ? CacheRoot : Scratch, "cache-" + _daemons.Count);
        var process = Process.Start(StartInfo(["start", .. role, "--num-cpus", "1", "--resources", resources, "--token", Token, "--cache-dir", cache, "--block"]))!;
        var daemon = new Daemon(process);
        _daemons.Add(daemon);
        var stderr = process.StandardError.ReadToEndAsync();
        while (await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(1)) is { } line)
        {
            if (HeadLine().Match(line) is { Success: true } head)
            {
                daemon.HeadAddress = head.Groups["address"].Value;
                daemon.NodeId = head.Groups["node"].Value;
                continue;
            }

            if (daemon.NodeId.Length > 0 && JoinLine().Match(line) is { Success: true } join)
            {
                daemon.CaHash = join.Groups["hash"].Value;
                continue;
            }

            if (daemon.NodeId.Length > 0 && HttpLine().Match(line) is { Success: true } http)
            {
                daemon.HttpAddress = http.Groups["url"].Value;
                break;
            }

            if (NodeLine().Match(line) is { Success: true } node)
            {
                daemon.HeadAddress = node.Groups["address"].Value;
                daemon.NodeId = node.Groups["node"].Value;
                break;
            }
        }

        if (daemon.NodeId.Length == 0)
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            throw new InvalidOperationException($"terrarium start exited with {process.ExitCode} before it served: {await stderr}");
        }

        // Keep reading, so the daemon never blocks on a full pipe.
        _ = process.StandardOutput.ReadToEndAsync();
        return daemon;
    }

    private ProcessStartInfo StartInfo(IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(Command[0], [.. Command.Skip(1), .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["XDG_RUNTIME_DIR"] = RuntimeDirectory;
        if (WorkingDirectory is not null)
        {
            start.WorkingDirectory = WorkingDirectory;
        }

        start.Environment["XDG_CONFIG_HOME"] = ConfigDirectory;
        start.Environment.Remove("TERRARIUM_TOKEN");
        start.Environment.Remove("TERRARIUM_ADDRESS");
        // Tests start heads side by side: each HTTP API on a free port, never the default one.
        start.Environment["TERRARIUM_DASHBOARD_PORT"] = "0";
        foreach (var (name, value) in Environment)
        {
            start.Environment[name] = value;
        }
        return start;
    }

    private static string WorkerDotnet() => Terrarium.Node.WorkerHostCommand.CurrentDotnet();

    [GeneratedRegex(@"^Terrarium head started at (?<address>\S+), with node (?<node>\S+) ")]
    private static partial Regex HeadLine();

    [GeneratedRegex(@"^Terrarium node (?<node>\S+) .* joined the cluster at (?<address>\S+)\.$")]
    private static partial Regex NodeLine();

    [GeneratedRegex(@"^  Join from another machine: .*(--ca-hash (?<hash>\S+)|--insecure|--tls-ca <your CA>)$")]
    private static partial Regex JoinLine();

    [GeneratedRegex(@"^  HTTP API: +(?<url>https?://\S+|off)")]
    private static partial Regex HttpLine();

    /// <summary>One <c>terrarium start --block</c> process.</summary>
    public sealed class Daemon(Process process)
    {
        public Process Process { get; } = process;

        public string NodeId { get; set; } = "";

        public string HeadAddress { get; set; } = "";

        /// <summary>For a head: the CA pin of its join line (empty for --insecure).</summary>
        public string CaHash { get; set; } = "";

        /// <summary>For a head: the base URL of its HTTP API (<c>off</c> when it serves none).</summary>
        public string HttpAddress { get; set; } = "";

        /// <summary>
        /// SIGKILL: the daemon dies as a crashed machine's would, leaving its workers to notice.
        /// Returns once it is gone, its files closed (its shared-memory store's lock released).
        /// </summary>
        public void Kill()
        {
            Process.Kill();
            Process.WaitForExit();
        }

        /// <summary>SIGTERM, as a service manager stops it; killed if it does not stop in time.</summary>
        public async Task StopAsync()
        {
            if (Process.HasExited)
            {
                return;
            }

            Syscall.kill(Process.Id, Signum.SIGTERM);
            try
            {
                await Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (TimeoutException)
            {
                Process.Kill(entireProcessTree: true);
            }
        }
    }
}
