using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;

namespace Terrarium.Protocol.Security;

/// <summary>
/// The fingerprint that pins a cluster's certificate authority in a join line:
/// <c>sha256:</c> and the lowercase hex SHA-256 of the CA's public key (its DER SubjectPublicKeyInfo),
/// as <c>kubeadm join --discovery-token-ca-cert-hash</c> pins a Kubernetes CA.
/// </summary>
public static partial class CaHash
{
    /// <summary>The environment variable a driver or the CLI reads the pin from.</summary>
    public const string EnvironmentVariable = "TERRARIUM_CA_HASH";

    private const string Prefix = "sha256:";

    /// <summary>The pin of <paramref name="authority"/>.</summary>
    public static string Of(X509Certificate2 authority) =>
        Prefix + Convert.ToHexString(SHA256.HashData(authority.PublicKey.ExportSubjectPublicKeyInfo())).ToLowerInvariant();

    /// <summary>Checks the form of a pin and returns it in lowercase.</summary>
    /// <exception cref="FormatException">It is not <c>sha256:</c> and 64 hex digits.</exception>
    public static string Parse(string pin)
    {
        ArgumentNullException.ThrowIfNull(pin);
        var trimmed = pin.Trim().ToLowerInvariant();
        return Form().IsMatch(trimmed)
            ? trimmed
            : throw new FormatException($"CA hash '{pin}' is not 'sha256:' and 64 hex digits (terrarium start --head prints it)");
    }

    [GeneratedRegex("^sha256:[0-9a-f]{64}$")]
    private static partial Regex Form();
}
