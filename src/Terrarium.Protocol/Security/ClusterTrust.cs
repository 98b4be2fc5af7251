using Terrarium.Protocol.LocalFiles;
using Terrarium.Protocol.Transport;

namespace Terrarium.Protocol.Security;

/// <summary>
/// How a client (a driver, the CLI) decides which servers of a cluster to trust, from what it was
/// told, in this order: plain TCP if told so (<c>--insecure</c>); the pinned CA, learned from the
/// head (<c>--ca-hash</c>, <c>TERRARIUM_CA_HASH</c>); the CA that <c>terrarium start</c> on this
/// machine recorded for that head; the CA of the heads this user starts here (<c>ca.pem</c> beside
/// the token). Plain TCP is never chosen unless asked for. A cluster on Unix sockets needs none of it.
/// </summary>
public static class ClusterTrust
{
    /// <summary>The environment variable that says to connect over plain TCP (<c>1</c>), as <c>--insecure</c> does.</summary>
    public const string InsecureEnvironmentVariable = "TERRARIUM_INSECURE";

    /// <summary>The file in the user's config folder (<see cref="UserFolders.Config"/>) that holds the CA of the heads this user starts.</summary>
    public const string CaFileName = "ca.pem";

    /// <summary>The TLS settings for the cluster whose head is at <paramref name="head"/>.</summary>
    /// <param name="head">The head's address.</param>
    /// <param name="caHash">The pin given, if any; else <c>TERRARIUM_CA_HASH</c> is read.</param>
    /// <param name="insecure">Plain TCP was asked for; else <c>TERRARIUM_INSECURE=1</c> asks for it.</param>
    /// <param name="ct">Cancels the head's answer, when the CA is learned from it.</param>
    /// <exception cref="ArgumentException">Nothing says how to trust a TCP head, or the pin is malformed.</exception>
    /// <exception cref="System.Security.Authentication.AuthenticationException">The head is not the pinned cluster's.</exception>
    public static async Task<ClusterTls> ResolveAsync(Endpoint head, string? caHash, bool insecure, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(head);
        caHash ??= Environment.GetEnvironmentVariable(CaHash.EnvironmentVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : null;
        insecure |= Environment.GetEnvironmentVariable(InsecureEnvironmentVariable) == "1";
        if (insecure && caHash is not null)
        {
            throw new ArgumentException("a CA hash and insecure both given: a cluster runs either with TLS (give its CA hash) or without (insecure), not both");
        }

        if (insecure)
        {
            return ClusterTls.Insecure;
        }

        if (caHash is not null)
        {
            string pin;
            try
            {
                pin = CaHash.Parse(caHash);
            }
            catch (FormatException e)
            {
                throw new ArgumentException(e.Message, nameof(caHash), e);
            }

            return head.SocketPath is not null ? ClusterTls.UnixOnly : await CaDiscovery.FetchAsync(head, pin, ct).ConfigureAwait(false);
        }

        // What this machine recorded gives a CA to trust; never plain TCP, which must be asked for each time.
        if (DaemonRecord.FindLive().FirstOrDefault(d => d.Role == "head" && d.HeadAddress == head.ToString() && d.Tls.Length > 0) is { } local
            && Recorded(local) is { IsInsecure: false } recorded)
        {
            return recorded;
        }

        if (head.SocketPath is not null)
        {
            return ClusterTls.UnixOnly;
        }

        // A trust anchor only if no one else could have put it there.
        var caFile = Path.Combine(UserFolders.Config(), CaFileName);
        if (File.Exists(caFile) && TrustedPath.Problem(caFile) is null)
        {
            var authorities = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
            authorities.ImportFromPemFile(caFile);
            return ClusterTls.Trusting(authorities);
        }

        throw new ArgumentException(
            $"{head} is a TCP address, and nothing says how to check that it is your cluster's head: give the CA hash that terrarium start --head printed " +
            $"(ClusterOptions.CaHash, {CaHash.EnvironmentVariable} or --ca-hash), or, for a cluster started with --insecure, ClusterOptions.Insecure " +
            $"({InsecureEnvironmentVariable}=1 or --insecure)");
    }

    /// <summary>The trust a daemon's record gives, or null for a record that does not parse (written by another version).</summary>
    private static ClusterTls? Recorded(DaemonRecord record)
    {
        try
        {
            return ClusterTls.FromLine(record.Tls);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
