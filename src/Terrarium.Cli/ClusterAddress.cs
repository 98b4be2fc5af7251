using Terrarium.Protocol.Hosting;

namespace Terrarium.Cli;

/// <summary>Which cluster a command talks to: <c>--address</c>, else <c>TERRARIUM_ADDRESS</c>, else the head started on this machine.</summary>
internal static class ClusterAddress
{
    public static (Endpoint Head, string Token) Resolve(string? address, string? token)
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

        return (endpoint, TokenStore.Find(token)?.Token
            ?? throw new UserError($"the cluster at {address} needs its token: pass --token or set {ClusterToken.EnvironmentVariable}"));
    }
}
