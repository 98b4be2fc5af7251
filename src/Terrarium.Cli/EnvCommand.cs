using System.CommandLine;
using Grpc.Core;
using Terrarium.Protocol;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Cli;

/// <summary><c>terrarium env</c>: the runtime envs the cluster's nodes build. <c>env logs</c> shows an env's setup log.</summary>
internal static class EnvCommand
{
    public static Command Create() => new("env", "See the runtime envs the nodes build") { LogsCommand() };

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

            var request = new EnvSetupLogRequest { EnvHash = parse.GetValue(hash)!.Trim(), Follow = parse.GetValue(follow) };
            var prefixed = nodes.Count > 1;
            var found = await Task.WhenAll(nodes.Select(n => PrintAsync(n.Node, request, prefixed, credentials, ct))).ConfigureAwait(false);
            return found.Any(f => f)
                ? 0
                : throw new UserError($"no live node has a setup log of an env {request.EnvHash} (an env's log is made on the nodes where work that needs it ran)");
        }));
        return command;
    }

    /// <summary>Prints the node's lines; whether it had the log.</summary>
    private static async Task<bool> PrintAsync(NodeInfo node, EnvSetupLogRequest request, bool prefixed, ClusterCredentials credentials, CancellationToken ct)
    {
        var (channel, invoker) = ClusterChannel.Open(Endpoint.Parse(node.Address), credentials);
        using (channel)
        {
            try
            {
                using var call = new Protocol.Node.NodeClient(invoker).EnvSetupLog(request, cancellationToken: ct);
                await foreach (var batch in call.ResponseStream.ReadAllAsync(ct).ConfigureAwait(false))
                {
                    foreach (var line in batch.Lines)
                    {
                        await Console.Out.WriteLineAsync(prefixed ? $"[{node.NodeId}] {line}" : line).ConfigureAwait(false);
                    }
                }

                return true;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
            {
                return false;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
            {
                throw new UserError(e.Status.Detail);
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
            {
                await Console.Error.WriteLineAsync($"terrarium: node {node.NodeId} ({node.Address}) does not answer: {e.Status.Detail}").ConfigureAwait(false);
                return false;
            }
        }
    }
}
