using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Terrarium.Protocol.LocalFiles;

namespace Terrarium.Cli;

/// <summary><c>terrarium start</c>: a head (with a node) or a node joining a head, in the background or the foreground.</summary>
internal static class StartCommand
{
    public static Command Create()
    {
        var head = new Option<bool>("--head") { Description = "Start a new cluster: its head, and a node on this machine" };
        var address = new Option<string?>("--address") { Description = "Join the cluster whose head is at HOST:PORT (default: TERRARIUM_ADDRESS)" };
        var host = new Option<string>("--host")
        {
            Description = "The IP address to listen on: 127.0.0.1 keeps the cluster on this machine; 0.0.0.0 listens on every interface",
            DefaultValueFactory = _ => "127.0.0.1",
        };
        var port = new Option<int?>("--port") { Description = $"The head's TCP port (default {StartSettings.DefaultHeadPort}; 0 picks a free one)" };
        var numCpus = new Option<double?>("--num-cpus") { Description = "CPUs this node offers to tasks and actors (default: the machine's; 0 for a head that runs no work)" };
        var resources = new Option<string?>("--resources") { Description = "Custom resources this node offers, as JSON: '{\"gpu\": 2, \"ssd\": 1}'" };
        var token = new Option<string?>("--token")
        {
            Description = $"The cluster token (default: {Protocol.Transport.ClusterToken.EnvironmentVariable}, else the one stored in {TokenStore.FilePath}, generated if missing)",
        };
        var cacheDir = new Option<string?>("--cache-dir") { Description = "Where this node caches packages and environments (default: TERRARIUM_CACHE_DIR or ~/.cache/terrarium)" };
        var deathTimeout = new Option<double>("--node-death-timeout")
        {
            Description = "Seconds a node may stay silent before the head declares it dead (head only)",
            DefaultValueFactory = _ => 10,
        };
        var redis = new Option<string?>("--redis")
        {
            Description = "Keep the head's state in Redis (redis://[USER:]PASSWORD@HOST:PORT, rediss:// for TLS): a head started again with the same Redis finds its nodes, jobs and named actors (head only)",
        };
        var storageDir = new Option<string?>("--storage-dir")
        {
            Description = "Where the head keeps uploaded packages (default: with --redis, head-store in the cache folder; else the head's session folder, gone when it stops)",
        };
        var nodeIp = new Option<string?>("--node-ip-address")
        {
            Description = "The address other machines reach this one at (default: the listen address; with 0.0.0.0, the address this machine reaches the head from)",
        };
        var nugetConfig = new Option<string?>("--nuget-config")
        {
            Description = "The NuGet.Config this node restores nuget runtime envs with: sources, credentials (default: NuGet's usual lookup)",
        };
        var containerRuntime = new Option<string>("--container-runtime")
        {
            Description = "The command this node runs containers with, for runtime envs with a 'container' (podman's command line)",
            DefaultValueFactory = _ => "podman",
        };
        var containerRuntimeOptions = new Option<string[]>("--container-runtime-option")
        {
            Description = "An option the container runtime gets before every subcommand, e.g. --container-runtime-option=--root=/srv/containers (repeatable)",
        };
        var containerRunOptions = new Option<string[]>("--container-run-option")
        {
            Description = "An option for every container this node starts, ahead of an env's run_options, e.g. --container-run-option=--device=nvidia.com/gpu=all (repeatable)",
        };
        var containerAllow = new Option<string[]>("--container-allow-option")
        {
            Description = "Allow in envs' run_options one that nodes refuse by default because it lets a job out of its container, e.g. --container-allow-option=--volume (repeatable)",
        };
        var containerDeny = new Option<string[]>("--container-deny-option")
        {
            Description = "Refuse in envs' run_options one more option, e.g. --container-deny-option=--memory (repeatable)",
        };
        var python = new Option<string>("--python")
        {
            Description = "The Python this node creates pip runtime envs' virtual environments with",
            DefaultValueFactory = _ => "python3",
        };
        var condaCommand = new Option<string?>("--conda-command")
        {
            Description = "The conda-compatible tool for conda runtime envs given by name or spec (default: micromamba, mamba or conda on PATH)",
        };
        var caHash = new Option<string?>("--ca-hash")
        {
            Description = $"The pin of the cluster's CA, sha256:..., as the head printed it: the node checks the head before it sends the token (default: {Protocol.Security.CaHash.EnvironmentVariable}, else what this machine knows of that head)",
        };
        var insecure = new Option<bool>("--insecure") { Description = "No TLS: the token and all data cross the network in clear. Only on a network you trust entirely" };
        var tlsCert = new Option<string?>("--tls-cert") { Description = "Your own PKI: this daemon's certificate (PEM), instead of one from the cluster's CA" };
        var tlsKey = new Option<string?>("--tls-key") { Description = "Your own PKI: the key of --tls-cert (PEM)" };
        var tlsCa = new Option<string?>("--tls-ca") { Description = "Your own PKI: the CA certificate(s) the cluster's certificates chain to (PEM); names are checked too" };
        var redisInsecure = new Option<bool>("--redis-insecure")
        {
            Description = "Use a Redis that accepts writes without a password: any local user could then rewrite the head's state (head only)",
        };
        var objectStore = new Option<string?>("--object-store")
        {
            Description = "The tmpfs this node keeps large values on, shared with workers and drivers of this machine (default /dev/shm); 'none' keeps them in the node's memory",
        };
        var objectStoreMemory = new Option<string?>("--object-store-memory")
        {
            Description = "Bytes of values the shared-memory store holds before the least recently used spill to disk, as 2G, 512M or bytes (default: 30% of memory)",
        };
        var cacheLimit = new Option<string?>("--cache-limit")
        {
            Description = $"Bytes each kind of env cache may take before unused envs' folders are deleted, oldest first, as working_dir=10GB,pip=5GB,conda=20GB,nuget=20GB,container=50GB (default: {Node.RuntimeEnvs.Caching.CacheLimits.EnvironmentVariable}, else 10GB each)",
        };
        var setupRetryDelay = new Option<double>("--setup-retry-delay")
        {
            Description = "Seconds a node answers work in an env whose setup failed with that failure before it tries the setup again",
            DefaultValueFactory = _ => 30,
        };
        var packageStoreLimit = new Option<string?>("--package-store-limit")
        {
            Description = "Bytes the head's package store may hold before packages no job uses are deleted, oldest first, as 20GB (default 10GB; head only)",
        };
        var packageProtection = new Option<double>("--package-protection")
        {
            Description = "Seconds after its last use a package is kept even when no job uses it (a job uses it while it runs or its detached actors live; head only)",
            DefaultValueFactory = _ => 600,
        };
        var dashboardHost = new Option<string>("--dashboard-host")
        {
            Description = "Where the head's HTTP API listens: plain HTTP on loopback, HTTPS with the cluster's certificate elsewhere (head only)",
            DefaultValueFactory = _ => "127.0.0.1",
        };
        var dashboardPort = new Option<string?>("--dashboard-port")
        {
            Description = "The HTTP API's port, 0 for any free one, or none (default: TERRARIUM_DASHBOARD_PORT, else 8265 — or 0 with --port 0; head only)",
        };
        var jobLogLimit = new Option<string?>("--job-log-limit")
        {
            Description = "Bytes of each submitted job's output the head keeps, the last ones, as 50M (default 10M; head only)",
        };
        var logLevel = new Option<string>("--log-level")
        {
            Description = "The least severe lines the daemon logs: trace, debug, information (runtime env setups, sessions, retries), warning, error, critical or none",
            DefaultValueFactory = _ => "warning",
        };
        var block = new Option<bool>("--block") { Description = "Stay in the foreground; Ctrl+C or SIGTERM stops the daemon and its workers" };
        var readyFile = new Option<string?>("--ready-file") { Hidden = true, Description = "Internal: where a background daemon reports that it serves" };

        var command = new Command("start", "Start a cluster's head, or a node that joins one")
        {
            head, address, host, port, numCpus, resources, token, cacheDir, deathTimeout, redis, storageDir, nodeIp, nugetConfig,
            containerRuntime, containerRuntimeOptions, containerRunOptions, containerAllow, containerDeny, python, condaCommand, caHash, insecure, tlsCert, tlsKey, tlsCa, redisInsecure,
            objectStore, objectStoreMemory, cacheLimit, setupRetryDelay, packageStoreLimit, packageProtection, dashboardHost, dashboardPort, jobLogLimit, logLevel, block, readyFile,
        };
        command.SetAction((parse, ct) => UserError.Report(async () =>
        {
            var settings = StartSettings.Parse(parse.GetValue(head), parse.GetValue(address), parse.GetValue(host)!, parse.GetValue(port),
                parse.GetValue(numCpus), parse.GetValue(resources), parse.GetValue(token), parse.GetValue(cacheDir), parse.GetValue(deathTimeout),
                parse.GetValue(redis), parse.GetValue(storageDir), parse.GetValue(nodeIp), parse.GetValue(nugetConfig)) with
            {
                Containers = StartSettings.ParseContainers(parse.GetValue(containerRuntime)!,
                    parse.GetValue(containerRuntimeOptions) ?? [], parse.GetValue(containerRunOptions) ?? [],
                    parse.GetValue(containerAllow) ?? [], parse.GetValue(containerDeny) ?? []),
                Python = StartSettings.ParsePython(parse.GetValue(python)!, parse.GetValue(condaCommand)),
                Tls = TlsSettings.Parse(parse.GetValue(head), parse.GetValue(caHash), parse.GetValue(insecure),
                    parse.GetValue(tlsCert), parse.GetValue(tlsKey), parse.GetValue(tlsCa)),
                RedisInsecure = parse.GetValue(redisInsecure),
                ObjectStoreRoot = StartSettings.ParseObjectStore(parse.GetValue(objectStore)),
                ObjectStoreMemory = parse.GetValue(objectStoreMemory) is { } memory ? StartSettings.ParseSize(memory, "--object-store-memory") : null,
                CacheLimits = StartSettings.ParseCacheLimits(parse.GetValue(cacheLimit)),
                FailedSetupRetryDelay = parse.GetValue(setupRetryDelay) is var retry && retry >= 0 && double.IsFinite(retry)
                    ? TimeSpan.FromSeconds(retry)
                    : throw new UserError($"--setup-retry-delay {retry} must be zero or more seconds"),
                PackageStoreLimit = StartSettings.ParsePackageStoreLimit(parse.GetValue(packageStoreLimit)),
                PackageProtection = parse.GetValue(packageProtection) is var protection && protection >= 0 && double.IsFinite(protection)
                    ? TimeSpan.FromSeconds(protection)
                    : throw new UserError($"--package-protection {protection} must be zero or more seconds"),
                // A head on any free port (--port 0) is one of several: its HTTP API takes any free port too.
                HttpEndpoint = StartSettings.ParseHttpEndpoint(parse.GetValue(dashboardHost)!,
                    parse.GetValue(dashboardPort) ?? Environment.GetEnvironmentVariable("TERRARIUM_DASHBOARD_PORT") ?? (parse.GetValue(port) == 0 ? "0" : "8265")),
                JobLogLimit = parse.GetValue(jobLogLimit) is { } jobLog
                    ? StartSettings.ParseSize(jobLog, "--job-log-limit") is var limit && limit is >= 1024 and <= int.MaxValue
                        ? limit
                        : throw new UserError($"--job-log-limit '{jobLog}' must be between 1K and 2G")
                    : Head.HeadOptions.DefaultJobLogLimit,
                LogLevel = StartSettings.ParseLogLevel(parse.GetValue(logLevel)!),
            };
            if (settings.RedisInsecure && settings.Redis is null)
            {
                throw new UserError("--redis-insecure goes with --redis");
            }

            var (clusterToken, tokenSource) = settings.IsHead
                ? TokenStore.FindOrCreate(settings.Token)
                : TokenStore.Find(settings.Token) ?? throw new UserError(
                    $"joining a cluster needs its token: pass --token, set {Protocol.Transport.ClusterToken.EnvironmentVariable}, or store it in {TokenStore.FilePath}");
            if (!parse.GetValue(block))
            {
                return await BackgroundDaemon.StartAsync(parse.Tokens.Select(t => t.Value).ToList(), settings, ct).ConfigureAwait(false);
            }

            return await RunInForegroundAsync(settings, clusterToken, tokenSource, parse.GetValue(readyFile), ct).ConfigureAwait(false);
        }));
        return command;
    }

    private static async Task<int> RunInForegroundAsync(StartSettings settings, string token, string tokenSource, string? readyFile, CancellationToken ct)
    {
        using var loggerFactory = LoggerFactory.Create(builder => builder
            .SetMinimumLevel(settings.LogLevel)
            // ASP.NET Core logs every gRPC call at information: its lines only from debug down.
            .AddFilter("Microsoft", settings.LogLevel <= LogLevel.Debug ? settings.LogLevel : LogLevel.Warning)
            // A start that fails (a port in use) is reported once, as one line, not as the host's stack trace.
            .AddFilter("Microsoft.Extensions.Hosting", LogLevel.None)
            .AddSimpleConsole(o => o.SingleLine = true));
        var logFile = Environment.GetEnvironmentVariable(BackgroundDaemon.LogFileVariable) ?? "";
        var daemon = await ClusterDaemon.StartAsync(settings, token, logFile, loggerFactory, ct).ConfigureAwait(false);
        await using (daemon.ConfigureAwait(false))
        {
            var summary = Summary(settings, daemon, tokenSource);
            Console.Out.Write(summary);
            Console.Out.Flush();
            if (readyFile is not null)
            {
                // Renamed into place: the waiting command never reads half a summary.
                await File.WriteAllTextAsync(readyFile + ".new", summary, CancellationToken.None).ConfigureAwait(false);
                File.Move(readyFile + ".new", readyFile);
            }

            try
            {
                await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Console.Out.WriteLine($"stopping {(settings.IsHead ? "the head" : "node " + daemon.NodeId)} and its workers");
            }
        }

        return 0;
    }

    /// <summary>What a user needs next: the address, how another machine joins, how a driver connects.</summary>
    private static string Summary(StartSettings settings, ClusterDaemon daemon, string tokenSource)
    {
        var resources = string.Join(", ", settings.Resources.Select(kv => $"{kv.Key}={kv.Value.ToString(CultureInfo.InvariantCulture)}")
            .Prepend($"CPU={settings.NumCpus.ToString(CultureInfo.InvariantCulture)}"));
        var tokenHint = tokenSource.StartsWith("given", StringComparison.Ordinal) || tokenSource.StartsWith("from", StringComparison.Ordinal)
            ? "--token <the token>"
            : $"--token \"$(cat {TokenStore.FilePath})\"";
        if (!settings.IsHead)
        {
            return $"Terrarium node {daemon.NodeId} ({resources}) joined the cluster at {daemon.HeadAddress}.{Environment.NewLine}";
        }

        var tls = daemon.Tls;
        var driverTls = tls.IsInsecure ? ", Insecure = true" : $", CaHash = \"{Protocol.Security.CaHash.Of(tls.Authorities[0])}\"";
        var driverVariables = tls.IsInsecure ? "TERRARIUM_INSECURE=1" : "TERRARIUM_CA_HASH";
        var lines = new List<string>
        {
            $"Terrarium head started at {daemon.HeadAddress}, with node {daemon.NodeId} ({resources}).",
            $"  Join from another machine:  terrarium start --address {daemon.HeadAddress} {tokenHint} {TlsSettings.JoinOptions(tls)}",
            $"  Connect a driver:           new ClusterOptions {{ Address = \"{daemon.HeadAddress}\", Token = <the token>{driverTls} }}",
            $"                              (or TERRARIUM_ADDRESS, TERRARIUM_TOKEN and {driverVariables}; on this machine, Address = \"auto\")",
            $"  The token:                  {tokenSource}",
            daemon.HttpEndpoint is { } http
                ? $"  HTTP API:                   {(http.IsLoopback || tls.IsInsecure ? "http" : "https")}://{http} (jobs: /api/jobs/; Authorization: Bearer <the token>)"
                : "  HTTP API:                   off (--dashboard-port none)",
            tls.IsInsecure
                ? "  TLS:                        OFF (--insecure): the token and all data cross the network in clear"
                : $"  TLS:                        on; {(tls.CheckHostNames ? "certificates from your CA (--tls-ca)" : $"the cluster's CA is in {UserFolders.Config()}")}",
            "  Stop:                       terrarium stop",
        };
        if (!settings.IsLoopback)
        {
            lines.Add($"  Listening on {settings.Host}: other machines can reach this cluster; only holders of the token get in.");
        }

        return string.Join(Environment.NewLine, lines) + Environment.NewLine;
    }
}
