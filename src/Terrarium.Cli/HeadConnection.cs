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
    public static async Task<IReadOnlyList<NodeState>> ListNodesAsync(Endpoint head, ClusterCredentials credentials, CancellationToken ct) =>
        (await CallAsync(head, credentials, (client, deadline) => client.ListNodesAsync(new ListNodesRequest(), deadline: deadline, cancellationToken: ct).ResponseAsync)
            .ConfigureAwait(false)).Nodes;

    /// <summary>One call to the head, given a deadline of <paramref name="seconds"/>.</summary>
    /// <exception cref="UserError">The head cannot be reached.</exception>
    public static async Task<T> CallAsync<T>(Endpoint head, ClusterCredentials credentials, Func<Protocol.Head.HeadClient, DateTime, Task<T>> call, double seconds = 10)
    {
        var (channel, invoker) = ClusterChannel.Open(head, credentials);
        using (channel)
        {
            try
            {
                return await call(new Protocol.Head.HeadClient(invoker), DateTime.UtcNow.AddSeconds(seconds)).ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
            {
                throw new UserError($"cannot reach the head at {head}: {e.Status.Detail}{TlsFailure.Hint(e)}");
            }
        }
    }
}
