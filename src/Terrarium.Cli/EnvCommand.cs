using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Grpc.Core;
using Spectre.Console;
using Terrarium.Protocol;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Cli;

/// <summary>
/// <c>terrarium env</c>: the runtime envs the cluster's nodes build. <c>env list</c> shows them and the
/// cached folders they use, <c>env logs</c> an env's setup log, <c>env gc</c> deletes what no work uses.
/// </summary>
internal static class EnvCommand
{
    public static Command Create() => new("env", "See and manage the runtime envs the nodes build, and their caches") { ListCommand(), LogsCommand(), GcCommand() };

    private static Command ListCommand()
    {
        var connection = new HeadConnection();
        var node = new Option<string?>("--node") { Description = "Only this node (default: every live node)" };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of tables" };
        var command = new Command("list", "Show each node's envs (state, users, last use) and the cached folders they use (kind, size, users, last use), against each kind's limit, " +
            "and the packages in the head's store (the jobs that use them). Exits 2 when a node did not answer")
        {
            node, json,
        };
        connection.AddTo(command);
        command.SetAction((parse, ct) => UserError.Report(async () =>
        {
            var (head, credentials) = await connection.ResolveAsync(parse, ct).ConfigureAwait(false);
            var nodes = await LiveNodesAsync(head, credentials, parse.GetValue(node), ct).ConfigureAwait(false);
            // The head's store is the cluster's, not a node's: shown when no one node is asked for.
            var packages = parse.GetValue(node) is null
                ? await HeadConnection.CallAsync(head, credentials, (h, deadline) => h.ListPackagesAsync(new ListPackagesRequest(), deadline: deadline, cancellationToken: ct).ResponseAsync)
                    .ConfigureAwait(false)
                : null;
            var answers = await Task.WhenAll(nodes.Select(async n =>
            {
                var (channel, invoker) = ClusterChannel.Open(Endpoint.Parse(n.Address), credentials);
                using (channel)
                {
                    try
                    {
                        return await new Protocol.Node.NodeClient(invoker)
                            .GetStatusAsync(new GetStatusRequest(), deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: ct).ConfigureAwait(false);
                    }
                    catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
                    {
                        await Console.Error.WriteLineAsync($"terrarium: node {n.NodeId} ({n.Address}) does not answer: {e.Status.Detail}").ConfigureAwait(false);
                        return null;
                    }
                }
            })).ConfigureAwait(false);
            var statuses = answers.OfType<NodeStatus>().ToList();
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new { nodes = statuses.Select(Report), packages = packages is null ? null : PackageReport.Json(packages) },
                    new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
            }
            else
            {
                PrintTables(statuses);
                if (packages is not null)
                {
                    AnsiConsole.Write(PackageReport.Table(packages));
                }
            }

            return statuses.Count == nodes.Count ? 0 : 2;
        }));
        return command;
    }

    private static Command GcCommand()
    {
        var connection = new HeadConnection();
        var node = new Option<string?>("--node") { Description = "Only this node (default: every live node)" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Say what would be deleted; delete nothing" };
        var command = new Command("gc", "Delete every cached env folder no work uses now (whatever the limits), and every package in the head's store no job uses " +
            "and none used lately; say how much was freed. Exits 2 when a node could not collect (an env was being built, or it shares its cache) or did not answer")
        {
            node, dryRun,
        };
        connection.AddTo(command);
        command.SetAction((parse, ct) => UserError.Report(async () =>
        {
            var (head, credentials) = await connection.ResolveAsync(parse, ct).ConfigureAwait(false);
            var nodes = await LiveNodesAsync(head, credentials, parse.GetValue(node), ct).ConfigureAwait(false);
            var dry = parse.GetValue(dryRun);
            var exitCode = 0;
            foreach (var target in nodes)
            {
                var (channel, invoker) = ClusterChannel.Open(Endpoint.Parse(target.Address), credentials);
                using (channel)
                {
                    CollectCacheReply reply;
                    try
                    {
                        reply = await new Protocol.Node.NodeClient(invoker)
                            .CollectCacheAsync(new CollectCacheRequest { DryRun = dry }, deadline: DateTime.UtcNow.AddMinutes(10), cancellationToken: ct).ConfigureAwait(false);
                    }
                    catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
                    {
                        await Console.Error.WriteLineAsync($"terrarium: node {target.NodeId} ({target.Address}) does not answer: {e.Status.Detail}").ConfigureAwait(false);
                        exitCode = 2;
                        continue;
                    }

                    if (reply.Skipped.Length > 0)
                    {
                        await Console.Error.WriteLineAsync($"terrarium: node {target.NodeId} collected nothing: {reply.Skipped}").ConfigureAwait(false);
                        exitCode = 2;
                        continue;
                    }

                    foreach (var removed in reply.Removed)
                    {
                        Console.Out.WriteLine($"{target.NodeId}: {(dry ? "would delete" : "deleted")} {removed.Name} ({removed.Kind}, {Sizes.Format(removed.Size)}, last used {When(removed.LastUsedUnixMs)})");
                    }

                    Console.Out.WriteLine($"{target.NodeId}: {(dry ? "would free" : "freed")} {Sizes.Format(reply.Removed.Sum(r => r.Size))} " +
                        $"({reply.Removed.Count} unused folder{(reply.Removed.Count == 1 ? "" : "s")})");
                }
            }

            if (parse.GetValue(node) is null)
            {
                var collected = await HeadConnection.CallAsync(head, credentials,
                    (h, deadline) => h.CollectPackagesAsync(new CollectPackagesRequest { DryRun = dry }, deadline: deadline, cancellationToken: ct).ResponseAsync, seconds: 600).ConfigureAwait(false);
                foreach (var removed in collected.Removed)
                {
                    Console.Out.WriteLine($"head: {(dry ? "would delete" : "deleted")} pkg://{removed.Hash} ({Sizes.Format(removed.Size)}, last used {When(removed.LastUsedUnixMs)})");
                }

                Console.Out.WriteLine($"head: {(dry ? "would free" : "freed")} {Sizes.Format(collected.Removed.Sum(r => r.Size))} " +
                    $"({collected.Removed.Count} unused package{(collected.Removed.Count == 1 ? "" : "s")})");
            }

            return exitCode;
        }));
        return command;
    }

    private static async Task<List<NodeInfo>> LiveNodesAsync(Endpoint head, ClusterCredentials credentials, string? only, CancellationToken ct)
    {
        var nodes = (await HeadConnection.ListNodesAsync(head, credentials, ct).ConfigureAwait(false)).Where(n => n.Alive).Select(n => n.Node).ToList();
        if (only is null)
        {
            return nodes;
        }

        return nodes.Where(n => n.NodeId == only).ToList() is { Count: > 0 } chosen
            ? chosen
            : throw new UserError($"the cluster has no live node '{only}' (see 'terrarium status')");
    }

    private static object Report(NodeStatus status) => new
    {
        node_id = status.NodeId,
        envs = status.RuntimeEnvs.Select(e => new
        {
            hash = e.Hash,
            fields = e.Fields,
            state = e.State,
            workers = e.References,
            tasks = e.Tasks,
            actors = e.Actors,
            last_used = e.LastUsedUnixMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(e.LastUsedUnixMs) : (DateTimeOffset?)null,
        }),
        resources = status.CachedResources.Select(r => new
        {
            kind = r.Kind,
            name = r.Name,
            size = r.Size,
            state = r.Users > 0 ? "in use" : "unused",
            users = r.Users,
            last_used = DateTimeOffset.FromUnixTimeMilliseconds(r.LastUsedUnixMs),
            envs = r.EnvHashes,
        }),
        cache = status.CacheLimits.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => new
        {
            kind = l.Key,
            size = status.CachedResources.Where(r => r.Kind == l.Key).Sum(r => r.Size),
            limit = l.Value,
        }),
    };

    private static void PrintTables(IEnumerable<NodeStatus> statuses)
    {
        if (Console.IsOutputRedirected)
        {
            // A pipe or a file has no width to fit: keep every row on one line (Spectre assumes 80).
            AnsiConsole.Profile.Width = 200;
        }

        foreach (var status in statuses.OrderBy(s => s.NodeId, StringComparer.Ordinal))
        {
            var envs = new Table().Title($"Envs of node {Markup.Escape(status.NodeId)}");
            foreach (var column in new[] { "Env", "Fields", "State", "Workers", "Tasks", "Actors", "Last used" })
            {
                envs.AddColumn(new TableColumn(column).NoWrap());
            }

            foreach (var env in status.RuntimeEnvs.OrderBy(e => e.Hash, StringComparer.Ordinal))
            {
                envs.AddRow(env.Hash[..Math.Min(12, env.Hash.Length)], Markup.Escape(string.Join(", ", env.Fields)), env.State,
                    Count(env.References), Count(env.Tasks), Count(env.Actors), env.LastUsedUnixMs > 0 ? When(env.LastUsedUnixMs) : "-");
            }

            AnsiConsole.Write(envs);
            var resources = new Table()
                .Title($"Cached folders of node {Markup.Escape(status.NodeId)}")
                .Caption(Markup.Escape(string.Join("; ", status.CacheLimits.OrderBy(l => l.Key, StringComparer.Ordinal)
                    .Select(l => $"{l.Key} {Sizes.Format(status.CachedResources.Where(r => r.Kind == l.Key).Sum(r => r.Size))} of {Sizes.Format(l.Value)}"))));
            foreach (var column in new[] { "Kind", "Folder", "Size", "State", "Users", "Last used" })
            {
                resources.AddColumn(new TableColumn(column).NoWrap());
            }

            foreach (var resource in status.CachedResources.OrderBy(r => r.Kind, StringComparer.Ordinal).ThenBy(r => r.Name, StringComparer.Ordinal))
            {
                resources.AddRow(resource.Kind, Markup.Escape(resource.Name), Sizes.Format(resource.Size), resource.Users > 0 ? "[green]in use[/]" : "unused",
                    Count(resource.Users), When(resource.LastUsedUnixMs));
            }

            AnsiConsole.Write(resources);
        }
    }

    private static string Count(int count) => count.ToString(CultureInfo.InvariantCulture);

    internal static string When(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static Command LogsCommand()
    {
        var connection = new HeadConnection();
        var hash = new Argument<string>("hash") { Description = "The env's hash, or its start, as 'terrarium status --json' and a setup failure show it" };
        var node = new Option<string?>("--node") { Description = "Only this node's log (default: every node that has one)" };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing the lines of a setup still running until it ends" };
        var command = new Command("logs", "Print an env's setup log: each step, how long it took, and its tools' output as they printed it")
        {
            hash, node, follow,
        };
        connection.AddTo(command);
        command.SetAction((parse, ct) => UserError.Report(async () =>
        {
            var (head, credentials) = await connection.ResolveAsync(parse, ct).ConfigureAwait(false);
            var nodes = (await HeadConnection.ListNodesAsync(head, credentials, ct).ConfigureAwait(false)).Where(n => n.Alive).ToList();
            if (parse.GetValue(node) is { } only)
            {
                nodes = nodes.Where(n => n.Node.NodeId == only).ToList();
                if (nodes.Count == 0)
                {
                    throw new UserError($"the cluster has no live node '{only}' (see 'terrarium status')");
                }
            }

            var given = parse.GetValue(hash)!.Trim();
            var answers = await Task.WhenAll(nodes.Select(n => ReadAsync(n.Node, new EnvSetupLogRequest { EnvHash = given }, credentials, null, ct))).ConfigureAwait(false);
            var logs = answers.Where(l => l.Found).ToList();
            var silent = answers.Count(l => !l.Answered);
            if (logs.Count == 0)
            {
                throw new UserError($"no live node {(silent > 0 ? "that answered " : "")}has a setup log of an env {given}" +
                    (silent > 0 ? $" ({silent} did not answer)" : " (an env's log is made on the nodes where work that needs it ran)"));
            }

            if (logs.Select(l => l.Hash).Distinct().Count() > 1)
            {
                throw new UserError($"'{given}' is the start of different envs' hashes on different nodes " +
                    $"({string.Join(", ", logs.Select(l => $"{l.Hash} on {l.Node.NodeId}"))}); give more of the hash");
            }

            var prefixed = logs.Count > 1;
            if (!parse.GetValue(follow))
            {
                foreach (var log in logs)
                {
                    Print(log.Node, log.Lines, prefixed);
                }

                return 0;
            }

            // Again, following: what was read above is printed again from the start, then what comes.
            await Task.WhenAll(logs.Select(l => ReadAsync(l.Node, new EnvSetupLogRequest { EnvHash = l.Hash, Follow = true }, credentials,
                lines => Print(l.Node, lines, prefixed), ct))).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// The node's log of the env, each batch of lines handed to <paramref name="onLines"/> as it comes
    /// when given (else kept); not found when the node has none, not answered when it is unreachable.
    /// </summary>
    private static async Task<NodeLog> ReadAsync(NodeInfo node, EnvSetupLogRequest request, ClusterCredentials credentials, Action<IReadOnlyList<string>>? onLines, CancellationToken ct)
    {
        var (channel, invoker) = ClusterChannel.Open(Endpoint.Parse(node.Address), credentials);
        using (channel)
        {
            var log = new NodeLog(node) { Answered = true, Found = true };
            try
            {
                using var call = new Protocol.Node.NodeClient(invoker).EnvSetupLog(request, cancellationToken: ct);
                await foreach (var batch in call.ResponseStream.ReadAllAsync(ct).ConfigureAwait(false))
                {
                    log.Hash = batch.EnvHash;
                    if (onLines is null)
                    {
                        log.Lines.AddRange(batch.Lines);
                    }
                    else
                    {
                        onLines(batch.Lines);
                    }
                }

                return log;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
            {
                return log with { Found = false };
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
            {
                throw new UserError(e.Status.Detail);
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
            {
                await Console.Error.WriteLineAsync($"terrarium: node {node.NodeId} ({node.Address}) does not answer: {e.Status.Detail}").ConfigureAwait(false);
                return log with { Answered = false, Found = false };
            }
        }
    }

    private static void Print(NodeInfo node, IEnumerable<string> lines, bool prefixed)
    {
        lock (Console.Out)
        {
            foreach (var line in lines)
            {
                Console.Out.WriteLine(prefixed ? $"[{node.NodeId}] {line}" : line);
            }
        }
    }

    private sealed record NodeLog(NodeInfo Node)
    {
        public bool Answered { get; init; }

        public bool Found { get; init; }

        public string Hash { get; set; } = "";

        public List<string> Lines { get; } = [];
    }
}
