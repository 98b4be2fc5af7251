using System.Security.Cryptography;
using System.Text;

namespace Terrarium.Protocol.Transport;

/// <summary>
/// The shared secret every RPC of a cluster carries. Never logged.
/// </summary>
public static class ClusterToken
{
    /// <summary>The metadata header that carries the token.</summary>
    public const string HeaderName = "x-terrarium-token";

    /// <summary>The environment variable a worker or CLI reads the token from.</summary>
    public const string EnvironmentVariable = "TERRARIUM_TOKEN";

    /// <summary>Creates a new random token.</summary>
    public static string NewToken() => Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();

    /// <summary>Compares a presented token with the expected one in constant time.</summary>
    public static bool Matches(string? presented, string expected) =>
        presented is not null &&
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(expected));
}
