using Terrarium.Protocol.LocalFiles;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Cli;

/// <summary>
/// Which cluster a command talks to — <c>--address</c>, else <c>TERRARIUM_ADDRESS</c>, else the head
/// started on this machine — and how: its token, and how its servers are checked (see <see cref="ClusterTrust"/>).
/// </summary>
internal static class ClusterAddress
{
    public static async Task<(Endpoint Head, ClusterCredentials Credentials)> ResolveAsync(string? address, string? token, string? caHash, bool insecure, CancellationToken ct)
    {
        address ??= Environment.GetEnvironmentVariable("TERRARIUM_ADDRESS");
        if (address is null or "auto")
        {
            var head = DaemonRecord.FindLive().FirstOrDefault(d => d.Role == "head")
                ?? throw new UserError("no cluster head of this user runs on this machine: give --address HOST:PORT (or TERRARIUM_ADDRESS), or start one with `terrarium start --head`");
            address = head.HeadAddress;
            token ??= Environment.GetEnvironmentVariable(ClusterToken.EnvironmentVariable) ?? head.Token;
        }

        Endpoint endpoint;
        try
        {
            endpoint = Endpoint.Parse(address);
        }
        catch (FormatException e)
        {
            throw new UserError($"--address: {e.Message}");
        }

        var clusterToken = TokenStore.Find(token)?.Token
            ?? throw new UserError($"the cluster at {address} needs its token: pass --token or set {ClusterToken.EnvironmentVariable}");
        try
        {
            var tls = await ClusterTrust.ResolveAsync(endpoint, caHash, insecure, ct).ConfigureAwait(false);
            return (endpoint, new ClusterCredentials(clusterToken, tls));
        }
        catch (ArgumentException e)
        {
            throw new UserError(e.Message.Replace("ClusterOptions.CaHash, ", "", StringComparison.Ordinal).Replace("ClusterOptions.Insecure (", "(", StringComparison.Ordinal));
        }
        catch (Grpc.Core.RpcException e)
        {
            throw new UserError($"cannot reach the head at {endpoint} to learn its CA: {e.Status.Detail}{TlsFailure.Hint(e)}");
        }
        catch (System.Security.Authentication.AuthenticationException e)
        {
            throw new UserError(e.Message);
        }
    }
}
