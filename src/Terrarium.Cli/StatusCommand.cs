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
/// <c>terrarium status</c>: the cluster's nodes, their resources, workers, actors, envs and queues.
/// Its exit code is for scripts and health probes: 0 when every node the head lists is alive and
/// answers, 2 when one is dead or does not answer (each named on stderr), 1 when the head cannot be reached.
/// </summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var connection = new HeadConnection();
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table" };
        var command = new Command("status", "Show the cluster's nodes: alive, resources total and available, workers, actors, runtime envs, queued tasks, objects held. Exits 2 when a node is dead or does not answer, 1 when the head cannot be reached")
        {
            json,
        };
        connection.AddTo(command);
        command.SetAction((parse, ct) => UserError.Report(async () =>
        {
            var (head, credentials) = await connection.ResolveAsync(parse, ct).ConfigureAwait(false);
            var nodes = await QueryAsync(head, credentials, ct).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new { head = head.ToString(), tls = TlsName(credentials.Tls), nodes },
                    new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
            }
            else
            {
                Print(head, credentials.Tls, nodes);
            }

            var unwell = nodes.Where(n => !n.Alive || n.Error is not null).ToList();
            foreach (var node in unwell)
            {
                await Console.Error.WriteLineAsync($"terrarium: node {node.NodeId} ({node.Address}) " +
                    (node.Error is { } error ? $"does not answer: {error}" : node.Restored ? "has not registered with the restarted head yet" : "is dead")).ConfigureAwait(false);
            }

            return unwell.Count == 0 ? 0 : 2;
        }));
        return command;
    }

    private static async Task<List<NodeReport>> QueryAsync(Endpoint head, ClusterCredentials credentials, CancellationToken ct)
    {
        var nodes = await HeadConnection.ListNodesAsync(head, credentials, ct).ConfigureAwait(false);
        var reports = await Task.WhenAll(nodes.Select(n => ReportAsync(n, credentials, ct))).ConfigureAwait(false);
        return reports.OrderBy(r => r.NodeId, StringComparer.Ordinal).ToList();
    }

    private static async Task<NodeReport> ReportAsync(NodeState node, ClusterCredentials credentials, CancellationToken ct)
    {
        var report = new NodeReport
        {
            NodeId = node.Node.NodeId,
            Address = node.Node.Address,
            Alive = node.Alive,
            Restored = node.Restored,
            Total = new SortedDictionary<string, double>(node.Node.Resources, StringComparer.Ordinal),
            Available = new SortedDictionary<string, double>(node.Available, StringComparer.Ordinal),
        };
        if (!node.Alive)
        {
            return report;
        }

        try
        {
            var (channel, invoker) = ClusterChannel.Open(Endpoint.Parse(node.Node.Address), credentials);
            using (channel)
            {
                var status = await new Protocol.Node.NodeClient(invoker)
                    .GetStatusAsync(new GetStatusRequest(), deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: ct).ConfigureAwait(false);
                return report with
                {
                    Available = new SortedDictionary<string, double>(status.Available, StringComparer.Ordinal),
                    Workers = status.Workers.Count(w => w.State != "dead"),
                    Actors = status.Workers.Count(w => w.ActorId.Length > 0 && w.State != "dead"),
                    RuntimeEnvs = status.RuntimeEnvs.Select(e => new EnvReport(e.Hash, e.State, e.References)).ToList(),
                    QueuedTasks = status.QueuedTasks,
                    Objects = status.Objects,
                    ObjectBytes = status.ObjectBytes,
                    ObjectStore = status.ObjectStore,
                };
            }
        }
        catch (RpcException e)
        {
            return report with { Error = $"{e.StatusCode}: {e.Status.Detail}" };
        }
    }

    private static string TlsName(ClusterTls tls) => tls.IsTls ? "on" : tls.IsInsecure ? "off" : "unix sockets";

    private static void Print(Endpoint head, ClusterTls tls, List<NodeReport> nodes)
    {
        var table = new Table()
            .Title($"Terrarium cluster at {head} (TLS {TlsName(tls)})")
            .Caption("CPU and other resources: free/total");
        foreach (var column in new[] { "Node", "Address", "Alive", "CPU", "Other", "Workers", "Actors", "Envs", "Queued", "Objects" })
        {
            table.AddColumn(new TableColumn(column).NoWrap());
        }

        foreach (var node in nodes)
        {
            table.AddRow(
                Markup.Escape(node.NodeId),
                Markup.Escape(node.Address),
                node.Alive ? "[green]yes[/]" : node.Restored ? "[yellow]restored[/]" : "[red]dead[/]",
                Amount(node, "CPU"),
                Markup.Escape(string.Join(", ", node.Total.Keys.Where(k => k != "CPU").Select(k => $"{k} {Amount(node, k)}"))),
                node.Error is null ? Count(node.Workers) : "[red]" + Markup.Escape(node.Error) + "[/]",
                Count(node.Actors),
                Count(node.RuntimeEnvs?.Count),
                Count(node.QueuedTasks),
                node.Objects is { } objects ? $"{objects} ({Sizes.Format(node.ObjectBytes ?? 0)})" : "-");
        }

        if (Console.IsOutputRedirected)
        {
            // A pipe or a file has no width to fit: keep every row on one line (Spectre assumes 80).
            AnsiConsole.Profile.Width = 200;
        }

        AnsiConsole.Write(table);
        foreach (var node in nodes.Where(n => n.ObjectStore is { Length: > 0 }))
        {
            AnsiConsole.MarkupLine($"Large values of {Markup.Escape(node.NodeId)}: {Markup.Escape(node.ObjectStore!)}");
        }

        if (tls.IsInsecure)
        {
            AnsiConsole.MarkupLine("[red]This cluster runs without TLS (--insecure): its token and all data cross the network in clear.[/]");
        }
    }

    private static string Amount(NodeReport node, string resource) =>
        string.Create(CultureInfo.InvariantCulture, $"{node.Available.GetValueOrDefault(resource)}/{node.Total.GetValueOrDefault(resource)}");

    private static string Count(int? count) => count?.ToString(CultureInfo.InvariantCulture) ?? "-";

    private sealed record NodeReport
    {
        public required string NodeId { get; init; }

        public required string Address { get; init; }

        public required bool Alive { get; init; }

        public bool Restored { get; init; }

        public required SortedDictionary<string, double> Total { get; init; }

        public required SortedDictionary<string, double> Available { get; init; }

        public int? Workers { get; init; }

        public int? Actors { get; init; }

        public List<EnvReport>? RuntimeEnvs { get; init; }

        public int? QueuedTasks { get; init; }

        public int? Objects { get; init; }

        public long? ObjectBytes { get; init; }

        public string? ObjectStore { get; init; }

        public string? Error { get; init; }
    }

    private sealed record EnvReport(string Hash, string State, int References);
}
