using System.Net;
using System.Text.Json;
using Terrarium.Protocol.LocalFiles;
using Terrarium.Protocol.Transport;

namespace Terrarium.Cli;

/// <summary>What <c>terrarium start</c> was asked for, checked: every mistake is a <see cref="UserError"/>.</summary>
internal sealed record StartSettings
{
    public const int DefaultHeadPort = 6380;

    public bool IsHead { get; init; }

    /// <summary>The head to join (a node), or null for a head.</summary>
    public Endpoint? HeadAddress { get; init; }

    public string Host { get; init; } = "127.0.0.1";

    public int Port { get; init; } = DefaultHeadPort;

    public double NumCpus { get; init; } = Environment.ProcessorCount;

    public IReadOnlyDictionary<string, double> Resources { get; init; } = new Dictionary<string, double>();

    public string? Token { get; init; }

    public string? CacheDirectory { get; init; }

    public TimeSpan NodeDeathTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Redis for the head's state, or null.</summary>
    public string? Redis { get; init; }

    /// <summary>Use a Redis that accepts unauthenticated writes (<c>--redis-insecure</c>).</summary>
    public bool RedisInsecure { get; init; }

    /// <summary>How TCP is secured.</summary>
    public TlsSettings Tls { get; init; } = new();

    /// <summary>The NuGet.Config this node restores <c>nuget</c> envs with, or null for NuGet's usual lookup.</summary>
    public string? NuGetConfigFile { get; init; }

    /// <summary>How this node builds pip and conda envs.</summary>
    public Node.PythonOptions Python { get; init; } = new();

    /// <summary>How this node runs workers in containers.</summary>
    public Node.ContainerRuntimeOptions Containers { get; init; } = new();

    /// <summary>Where the head keeps uploaded packages, or null for its session folder (gone when it stops).</summary>
    public string? StorageDirectory { get; init; }

    /// <summary>The tmpfs of the node's shared-memory object store; null keeps large values in the node's memory.</summary>
    public string? ObjectStoreRoot { get; init; } = Node.NodeOptions.DefaultObjectStoreRoot;

    /// <summary>Bytes of values the shared-memory store holds before it spills; null for the default.</summary>
    public long? ObjectStoreMemory { get; init; }

    /// <summary>How long a failed env setup is answered with its failure before it is tried again (<c>--setup-retry-delay</c>).</summary>
    public TimeSpan FailedSetupRetryDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Bytes each kind of env cache may take (<c>--cache-limit</c>); kinds not given get the default.</summary>
    public IReadOnlyDictionary<string, long> CacheLimits { get; init; } = new Dictionary<string, long>();

    /// <summary>Bytes the head's package store may hold (<c>--package-store-limit</c>).</summary>
    public long PackageStoreLimit { get; init; } = Head.HeadOptions.DefaultPackageStoreLimit;

    /// <summary>How long after its last use an unused package is kept (<c>--package-protection</c>).</summary>
    public TimeSpan PackageProtection { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Where the head's HTTP API listens (<c>--dashboard-host</c>, <c>--dashboard-port</c>); null for none.</summary>
    public Protocol.Transport.Endpoint? HttpEndpoint { get; init; }

    /// <summary>Reads <c>--dashboard-host</c> and <c>--dashboard-port</c> (a port, 0 for any free one, or <c>none</c>).</summary>
    /// <exception cref="UserError">Not an address, or not a port.</exception>
    public static Protocol.Transport.Endpoint? ParseHttpEndpoint(string host, string port)
    {
        if (port == "none")
        {
            return null;
        }

        if (!int.TryParse(port, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number) || number > 65535)
        {
            throw new UserError($"--dashboard-port '{port}' is not a port: give a number up to 65535, 0 for any free port, or none");
        }

        if (host != "localhost" && !IPAddress.TryParse(host, out _))
        {
            throw new UserError($"--dashboard-host '{host}' is not an IP address (or localhost)");
        }

        return Protocol.Transport.Endpoint.Tcp(host, number);
    }

    /// <summary>Bytes of each submitted job's output the head keeps (<c>--job-log-limit</c>).</summary>
    public long JobLogLimit { get; init; } = Head.HeadOptions.DefaultJobLogLimit;

    /// <summary>The least severe log lines the daemon writes (--log-level). Default: warnings.</summary>
    public Microsoft.Extensions.Logging.LogLevel LogLevel { get; init; } = Microsoft.Extensions.Logging.LogLevel.Warning;

    /// <summary>A level of Microsoft.Extensions.Logging, by name in any case.</summary>
    public static Microsoft.Extensions.Logging.LogLevel ParseLogLevel(string given) =>
        Enum.TryParse<Microsoft.Extensions.Logging.LogLevel>(given, ignoreCase: true, out var level) && Enum.IsDefined(level) && !int.TryParse(given, out _)
            ? level
            : throw new UserError($"--log-level '{given}' is not a level: give trace, debug, information, warning, error, critical or none");

    /// <summary>Reads <c>--package-store-limit</c> as <c>--cache-limit</c> reads sizes; the default when not given.</summary>
    /// <exception cref="UserError">Not a size.</exception>
    public static long ParsePackageStoreLimit(string? given)
    {
        try
        {
            return given is null ? Head.HeadOptions.DefaultPackageStoreLimit : Protocol.Sizes.Parse(given);
        }
        catch (FormatException e)
        {
            throw new UserError($"--package-store-limit: {e.Message}");
        }
    }

    /// <summary>Reads <c>--cache-limit</c>, else <c>TERRARIUM_CACHE_LIMIT</c>.</summary>
    /// <exception cref="UserError">A part is not KIND=SIZE.</exception>
    public static IReadOnlyDictionary<string, long> ParseCacheLimits(string? given)
    {
        try
        {
            return given is null ? Node.RuntimeEnvs.Caching.CacheLimits.FromEnvironment() : Node.RuntimeEnvs.Caching.CacheLimits.Parse(given);
        }
        catch (ArgumentException e)
        {
            throw new UserError((given is null ? "" : "--cache-limit: ") + e.Message);
        }
    }

    /// <summary>Reads a size: bytes, or a number with K, M, G or T (powers of 1024), such as <c>2G</c>.</summary>
    /// <exception cref="UserError">Not a size, or not above zero.</exception>
    public static long ParseSize(string value, string option)
    {
        var text = value.Trim().TrimEnd('B', 'b').TrimEnd('i');
        var shift = text.Length > 0 ? char.ToUpperInvariant(text[^1]) switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => 0 } : 0;
        var number = shift > 0 ? text[..^1] : text;
        return long.TryParse(number, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var amount) && amount > 0 && amount <= long.MaxValue >> shift
            ? amount << shift
            : throw new UserError($"{option} '{value}' is not a size (bytes, or a number with K, M, G or T, such as 2G)");
    }

    /// <summary>
    /// Reads <c>--object-store</c>: a folder that exists, or <c>none</c>; not given, <c>/dev/shm</c>
    /// (where there is none, the node keeps large values in its memory, and says so).
    /// </summary>
    /// <exception cref="UserError">A value given that is neither.</exception>
    public static string? ParseObjectStore(string? value) =>
        value is null ? Node.NodeOptions.DefaultObjectStoreRoot
            : value == "none" ? null
            : Directory.Exists(value) ? Path.GetFullPath(value)
            : throw new UserError($"--object-store '{value}' is not a folder (give a tmpfs such as /dev/shm, or 'none')");

    /// <summary>Whether the host is loopback: anything else is reachable from other machines.</summary>
    public bool IsLoopback => IPAddress.TryParse(Host, out var ip) ? IPAddress.IsLoopback(ip) : Host == "localhost";

    /// <summary>Whether the listen address is every interface (0.0.0.0 or ::).</summary>
    public bool IsWildcard => IPAddress.TryParse(Host, out var ip) && (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any));

    /// <summary>The address others reach this machine at, when given (<c>--node-ip-address</c>).</summary>
    public string? NodeIpAddress { get; init; }

    /// <summary>
    /// The address others reach this machine at: <c>--node-ip-address</c>, else the listen address,
    /// else — listening on every interface — the address this machine reaches the head from (or,
    /// for a head, its first non-loopback IPv4 address), as Ray picks a node's IP.
    /// </summary>
    public string AdvertisedHost
    {
        get
        {
            if (NodeIpAddress is not null)
            {
                return NodeIpAddress;
            }

            if (!IsWildcard)
            {
                return Host;
            }

            return (HeadAddress is { Host: { } head } ? LocalAddressTowards(head, HeadAddress.Port) : null) ?? FirstNonLoopbackAddress() ?? Dns.GetHostName();
        }
    }

    public static StartSettings Parse(bool head, string? address, string host, int? port, double? numCpus, string? resourcesJson,
        string? token, string? cacheDir, double nodeDeathTimeoutSeconds, string? redis = null, string? storageDir = null, string? nodeIpAddress = null, string? nugetConfig = null)
    {
        address ??= head ? null : Environment.GetEnvironmentVariable("TERRARIUM_ADDRESS");
        if (head == (address is not null))
        {
            throw new UserError(head
                ? "--head starts a new cluster and --address joins one: give only one of them"
                : "give --head to start a cluster, or --address HOST:PORT (or TERRARIUM_ADDRESS) to join one");
        }

        if (host != "localhost" && !IPAddress.TryParse(host, out _))
        {
            throw new UserError($"--host '{host}' is not an IP address to listen on (127.0.0.1 for this machine only, 0.0.0.0 for all interfaces)");
        }

        if (port is < 0 or > 65535)
        {
            throw new UserError($"--port {port} is not a TCP port (0-65535; 0 picks a free one)");
        }

        if (!head && port is not null)
        {
            throw new UserError("--port sets the head's port; a joining node picks a free port of its own");
        }

        if (numCpus is < 0 || (numCpus is { } cpus && !double.IsFinite(cpus)))
        {
            throw new UserError($"--num-cpus {numCpus} must be zero or more");
        }

        if (nodeDeathTimeoutSeconds <= 1 || !double.IsFinite(nodeDeathTimeoutSeconds))
        {
            throw new UserError($"--node-death-timeout {nodeDeathTimeoutSeconds} must be more than 1 second (nodes report every second)");
        }

        if (!head && (redis is not null || storageDir is not null))
        {
            throw new UserError("--redis and --storage-dir are the head's: give them with --head");
        }

        if (redis is not null && !redis.StartsWith("redis://", StringComparison.OrdinalIgnoreCase) && !redis.StartsWith("rediss://", StringComparison.OrdinalIgnoreCase)
            && !redis.Contains(':', StringComparison.Ordinal))
        {
            throw new UserError("--redis is not redis://[USER:PASSWORD@]HOST:PORT (rediss:// for TLS) nor a StackExchange.Redis configuration (HOST:PORT,password=...)");
        }

        if (nodeIpAddress is not null && Uri.CheckHostName(nodeIpAddress) is UriHostNameType.Unknown or UriHostNameType.Basic)
        {
            throw new UserError($"--node-ip-address '{nodeIpAddress}' is neither an IP address nor a host name");
        }

        Endpoint? headAddress = null;
        if (address is not null)
        {
            try
            {
                headAddress = Endpoint.Parse(address);
            }
            catch (FormatException e)
            {
                throw new UserError($"--address: {e.Message}");
            }
        }

        return new StartSettings
        {
            IsHead = head,
            HeadAddress = headAddress,
            Host = host,
            Port = port ?? DefaultHeadPort,
            NumCpus = numCpus ?? Environment.ProcessorCount,
            Resources = ParseResources(resourcesJson),
            Token = token,
            CacheDirectory = cacheDir,
            NodeDeathTimeout = TimeSpan.FromSeconds(nodeDeathTimeoutSeconds),
            Redis = redis,
            NodeIpAddress = nodeIpAddress,
            NuGetConfigFile = nugetConfig is null ? null
                : File.Exists(nugetConfig) ? Path.GetFullPath(nugetConfig)
                : throw new UserError($"--nuget-config '{nugetConfig}' does not exist"),
            // With Redis the head is meant to survive restarts: its packages must too.
            StorageDirectory = storageDir is not null ? Path.GetFullPath(storageDir)
                : redis is not null ? Path.Combine(cacheDir is null ? UserFolders.Cache() : Path.GetFullPath(cacheDir), "head-store")
                : null,
        };
    }

    /// <summary>The container runtime's command and the options this node adds to every call and every container.</summary>
    public static Node.ContainerRuntimeOptions ParseContainers(string command, IReadOnlyList<string> globalOptions, IReadOnlyList<string> runOptions,
        IReadOnlyList<string> allowed, IReadOnlyList<string> denied)
    {
        foreach (var (flag, option) in allowed.Select(o => ("--container-allow-option", o)).Concat(denied.Select(o => ("--container-deny-option", o))))
        {
            if (!option.StartsWith("--", StringComparison.Ordinal) || option.Contains('=', StringComparison.Ordinal))
            {
                throw new UserError($"{flag} '{option}' is not a long option name such as --volume (for -v, give --volume)");
            }
        }

        if (allowed.FirstOrDefault(o => !Node.ContainerRuntimeOptions.DeniedByDefault.Contains(o)) is { } notDenied)
        {
            throw new UserError($"--container-allow-option '{notDenied}' is not refused to begin with; nodes refuse by default: {string.Join(", ", Node.ContainerRuntimeOptions.DeniedByDefault)}");
        }

        if (string.IsNullOrWhiteSpace(command))
        {
            throw new UserError("--container-runtime must name a command, such as podman");
        }

        if (Node.ContainerRuntimeOptions.RefusalOf(runOptions) is { } refusal)
        {
            throw new UserError($"--container-run-option: {refusal}");
        }

        return new Node.ContainerRuntimeOptions
        {
            Command = command, GlobalOptions = globalOptions, DefaultRunOptions = runOptions, AllowedRunOptions = allowed, DeniedRunOptions = denied,
        };
    }

    public static Node.PythonOptions ParsePython(string interpreter, string? condaCommand) => new()
    {
        Interpreter = string.IsNullOrWhiteSpace(interpreter) ? throw new UserError("--python must name a Python interpreter, such as python3") : interpreter,
        CondaCommand = condaCommand is not null && string.IsNullOrWhiteSpace(condaCommand) ? throw new UserError("--conda-command must name a command, such as micromamba") : condaCommand,
    };

    /// <summary>The local address the kernel would send from to reach <paramref name="host"/> (no packet is sent).</summary>
    private static string? LocalAddressTowards(string host, int port)
    {
        try
        {
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
            socket.Connect(host, port);
            return socket.LocalEndPoint is IPEndPoint { Address: var local } && !IPAddress.IsLoopback(local)
                ? (local.IsIPv4MappedToIPv6 ? local.MapToIPv4() : local).ToString()
                : null;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return null;
        }
    }

    private static string? FirstNonLoopbackAddress() =>
        System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == System.Net.NetworkInformation.OperationalStatus.Up)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
            ?.ToString();

    /// <summary>Custom resources as a JSON object of names to non-negative numbers: <c>{"gpu": 2}</c>.</summary>
    public static IReadOnlyDictionary<string, double> ParseResources(string? json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return new Dictionary<string, double>();
        }

        Dictionary<string, double>? parsed;
        try
        {
            parsed = JsonSerializer.Deserialize<Dictionary<string, double>>(json);
        }
        catch (JsonException e)
        {
            throw new UserError($"--resources must be a JSON object of names to numbers, like '{{\"gpu\": 2}}': {e.Message}");
        }

        if (parsed is null)
        {
            throw new UserError("--resources must be a JSON object of names to numbers, like '{\"gpu\": 2}'");
        }

        foreach (var (name, amount) in parsed)
        {
            if (string.IsNullOrWhiteSpace(name) || amount < 0 || !double.IsFinite(amount))
            {
                throw new UserError($"--resources: '{name}' = {amount}: names must be non-empty and amounts zero or more");
            }

            if (name is "CPU")
            {
                throw new UserError("--resources: give CPUs with --num-cpus, not as a custom resource");
            }
        }

        return parsed;
    }
}
