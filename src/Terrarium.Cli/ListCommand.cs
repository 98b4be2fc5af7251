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
/// <c>terrarium list actors</c>: the cluster's actors as their nodes see them (Ray's state CLI). Exits
/// 2 when a node the head lists as alive does not answer (its actors are missing; it is named on stderr).
/// </summary>
internal static class ListCommand
{
    // What --filter may match, by the key the JSON output uses too.
    private static readonly Dictionary<string, Func<ActorRow, string>> s_actorKeys = new(StringComparer.Ordinal)
    {
        ["actor_id"] = a => a.ActorId,
        ["class_name"] = a => a.ClassName,
        ["name"] = a => a.Name ?? "",
        ["state"] = a => a.State,
        ["node_id"] = a => a.NodeId,
        ["job_id"] = a => a.JobId,
        ["detached"] = a => a.Detached ? "true" : "false",
    };

    public static Command Create()
    {
        var connection = new HeadConnection();
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table" };
        var filters = new Option<string[]>("--filter")
        {
            Description = $"Only actors whose KEY is VALUE, as state=alive (repeatable: all must match; keys: {string.Join(", ", s_actorKeys.Keys)})",
        };
        var actors = new Command("actors", "List the cluster's actors: id, class, name, state, node, job, restarts, detached, worker pid, and why a dead one died")
        {
            json, filters,
        };
        connection.AddTo(actors);
        actors.SetAction((parse, ct) => UserError.Report(async () =>
        {
            var matches = ParseFilters(parse.GetValue(filters) ?? []);
            var (head, credentials) = await connection.ResolveAsync(parse, ct).ConfigureAwait(false);
            var (rows, silent) = await QueryActorsAsync(head, credentials, ct).ConfigureAwait(false);
            rows = rows.Where(row => matches.All(m => s_actorKeys[m.Key](row) == m.Value)).ToList();
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
            }
            else
            {
                PrintActors(rows);
            }

            foreach (var (nodeId, why) in silent)
            {
                await Console.Error.WriteLineAsync($"terrarium: node {nodeId} does not answer ({why}): its actors are not listed").ConfigureAwait(false);
            }

            return silent.Count == 0 ? 0 : 2;
        }));

        return new Command("list", "List what the cluster runs, as Ray's state CLI does") { actors, NodesCommand(), JobCommand.ListCommand("jobs") };
    }

    private static Command NodesCommand()
    {
        var connection = new HeadConnection();
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table" };
        var filters = new Option<string[]>("--filter") { Description = "Only nodes whose KEY is VALUE, as state=alive (repeatable; keys: node_id, address, state)" };
        var command = new Command("nodes", "List the cluster's nodes as the head knows them: id, address, state (alive, dead, or restored: known from before a head restart), resources free and total")
        {
            json, filters,
        };
        connection.AddTo(command);
        command.SetAction((parse, ct) => UserError.Report(async () =>
        {
            var (head, credentials) = await connection.ResolveAsync(parse, ct).ConfigureAwait(false);
            var rows = (await HeadConnection.ListNodesAsync(head, credentials, ct).ConfigureAwait(false))
                .OrderBy(n => n.Node.NodeId, StringComparer.Ordinal)
                .Select(n => new NodeRow(n.Node.NodeId, n.Node.Address, n.Alive ? "alive" : n.Restored ? "restored" : "dead",
                    n.Node.Resources.ToDictionary(), n.Available.ToDictionary()))
                .ToList();
            foreach (var filter in parse.GetValue(filters) ?? [])
            {
                rows = filter.Split('=', 2) switch
                {
                    ["node_id", var value] => rows.Where(r => r.NodeId == value).ToList(),
                    ["address", var value] => rows.Where(r => r.Address == value).ToList(),
                    ["state", var value] => rows.Where(r => r.State == value).ToList(),
                    _ => throw new UserError($"--filter '{filter}' is not KEY=VALUE with a key of node_id, address, state"),
                };
            }

            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
                return 0;
            }

            var table = new Table().Title($"{rows.Count} node{(rows.Count == 1 ? "" : "s")}");
            foreach (var column in new[] { "Node", "Address", "State", "Resources (free / total)" })
            {
                table.AddColumn(new TableColumn(column));
            }

            foreach (var row in rows)
            {
                var resources = string.Join(", ", row.Resources.OrderBy(r => r.Key, StringComparer.Ordinal)
                    .Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Key} {row.Available.GetValueOrDefault(r.Key):0.##}/{r.Value:0.##}")));
                table.AddRow(Markup.Escape(row.NodeId), Markup.Escape(row.Address),
                    row.State == "alive" ? "[green]alive[/]" : $"[red]{row.State}[/]", Markup.Escape(resources));
            }

            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }

    private static List<KeyValuePair<string, string>> ParseFilters(IEnumerable<string> given) =>
        given.Select(filter => filter.Split('=', 2) is [var key, var value] && s_actorKeys.ContainsKey(key)
            ? new KeyValuePair<string, string>(key, value)
            : throw new UserError($"--filter '{filter}' is not KEY=VALUE with a key of {string.Join(", ", s_actorKeys.Keys)}")).ToList();

    private static async Task<(List<ActorRow> Rows, List<(string NodeId, string Why)> Silent)> QueryActorsAsync(Endpoint head, ClusterCredentials credentials, CancellationToken ct)
    {
        var nodes = await HeadConnection.ListNodesAsync(head, credentials, ct).ConfigureAwait(false);
        // All at once: a node that does not answer costs its deadline once, not once per node before it.
        var answers = await Task.WhenAll(nodes.Where(n => n.Alive).OrderBy(n => n.Node.NodeId, StringComparer.Ordinal)
            .Select(n => ActorsOfAsync(n, credentials, ct))).ConfigureAwait(false);
        return ([.. answers.SelectMany(a => a.Rows)], [.. answers.Where(a => a.Silent is not null).Select(a => a.Silent!.Value)]);
    }

    private static async Task<(List<ActorRow> Rows, (string NodeId, string Why)? Silent)> ActorsOfAsync(NodeState node, ClusterCredentials credentials, CancellationToken ct)
    {
        try
        {
            var (channel, invoker) = ClusterChannel.Open(Endpoint.Parse(node.Node.Address), credentials);
            using (channel)
            {
                var status = await new Protocol.Node.NodeClient(invoker)
                    .GetStatusAsync(new GetStatusRequest(), deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: ct).ConfigureAwait(false);
                return ([.. status.Actors.Select(a => new ActorRow(a.ActorId, a.ClassName, a.Name.Length > 0 ? a.Name : null, a.State, node.Node.NodeId,
                    a.JobId, a.Restarts, a.MaxRestarts, a.Detached, a.Pid > 0 ? a.Pid : null, a.DeathCause.Length > 0 ? a.DeathCause : null))], null);
            }
        }
        catch (RpcException e)
        {
            return ([], (node.Node.NodeId, $"{e.StatusCode}: {e.Status.Detail}"));
        }
    }

    private static void PrintActors(List<ActorRow> rows)
    {
        var table = new Table().Title($"{rows.Count} actor{(rows.Count == 1 ? "" : "s")}");
        foreach (var column in new[] { "Actor", "Class", "Name", "State", "Node", "Job", "Restarts", "Detached", "Pid" })
        {
            table.AddColumn(new TableColumn(column).NoWrap());
        }

        foreach (var row in rows)
        {
            table.AddRow(
                Markup.Escape(row.ActorId),
                Markup.Escape(row.ClassName),
                Markup.Escape(row.Name ?? "-"),
                row.State switch { "alive" => "[green]alive[/]", "dead" => "[red]dead[/]", var other => $"[yellow]{other}[/]" },
                Markup.Escape(row.NodeId),
                Markup.Escape(row.JobId),
                string.Create(CultureInfo.InvariantCulture, $"{row.Restarts}/{row.MaxRestarts}"),
                row.Detached ? "yes" : "no",
                row.Pid?.ToString(CultureInfo.InvariantCulture) ?? "-");
        }

        if (Console.IsOutputRedirected)
        {
            // A pipe or a file has no width to fit: keep every row on one line (Spectre assumes 80).
            AnsiConsole.Profile.Width = 240;
        }

        AnsiConsole.Write(table);
        foreach (var row in rows.Where(r => r.DeathCause is not null))
        {
            AnsiConsole.MarkupLine($"{Markup.Escape(row.ActorId)} died: {Markup.Escape(row.DeathCause!)}");
        }
    }

    private sealed record NodeRow(string NodeId, string Address, string State, Dictionary<string, double> Resources, Dictionary<string, double> Available);

    private sealed record ActorRow(
        string ActorId, string ClassName, string? Name, string State, string NodeId, string JobId, int Restarts, int MaxRestarts, bool Detached, int? Pid, string? DeathCause);
}
