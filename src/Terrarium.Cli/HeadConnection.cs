using System.CommandLine;
using Grpc.Core;
using Terrarium.Protocol;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Cli;

/// <summary>The options of every command that talks to a running cluster, and what they lead to: its head, its nodes.</summary>
internal sealed class HeadConnection
{
    private readonly Option<string?> _address = new("--address") { Description = "The head's HOST:PORT (default: TERRARIUM_ADDRESS, else the head started on this machine)" };
    private readonly Option<string?> _token = new("--token") { Description = $"The cluster token (default: {ClusterToken.EnvironmentVariable}, else the local head's or the stored one)" };
    private readonly Option<string?> _caHash = new("--ca-hash") { Description = $"The pin of the cluster's CA (default: {CaHash.EnvironmentVariable}, else what this machine knows of the head)" };
    private readonly Option<bool> _insecure = new("--insecure") { Description = "The cluster runs without TLS (started with --insecure)" };

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(_address);
        command.Options.Add(_token);
        command.Options.Add(_caHash);
        command.Options.Add(_insecure);
    }

    public Task<(Endpoint Head, ClusterCredentials Credentials)> ResolveAsync(ParseResult parse, CancellationToken ct) =>
        ClusterAddress.ResolveAsync(parse.GetValue(_address), parse.GetValue(_token), parse.GetValue(_caHash), parse.GetValue(_insecure), ct);

    /// <summary>The nodes the head knows, alive or not.</summary>
    /// <exception cref="UserError">The head cannot be reached.</exception>
    public static async Task<IReadOnlyList<NodeState>> ListNodesAsync(Endpoint head, ClusterCredentials credentials, CancellationToken ct)
    {
        var (channel, invoker) = ClusterChannel.Open(head, credentials);
        using (channel)
        {
            try
            {
                var listed = await new Protocol.Head.HeadClient(invoker)
                    .ListNodesAsync(new ListNodesRequest(), deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: ct).ConfigureAwait(false);
                return listed.Nodes;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
            {
                throw new UserError($"cannot reach the head at {head}: {e.Status.Detail}{TlsFailure.Hint(e)}");
            }
        }
    }
}
