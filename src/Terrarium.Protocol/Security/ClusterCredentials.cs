namespace Terrarium.Protocol.Security;

/// <summary>
/// What a process of a cluster holds to talk to the others: the token every call presents, and how
/// its TCP connections are protected (which servers it trusts, what it serves with).
/// </summary>
/// <param name="Token">The cluster token. Never logged.</param>
/// <param name="Tls">The TLS settings of TCP connections.</param>
public sealed record ClusterCredentials(string Token, ClusterTls Tls)
{
    /// <summary>Credentials for a cluster that lives on Unix sockets only (an embedded cluster).</summary>
    public static ClusterCredentials UnixOnly(string token) => new(token, ClusterTls.UnixOnly);

    /// <inheritdoc />
    public override string ToString() => $"ClusterCredentials {{ Tls = {(Tls.IsTls ? "tls" : Tls.IsInsecure ? "insecure" : "unix only")} }}";
}
