using System.Security.Cryptography;
using System.Text;

namespace Terrarium.Protocol.Framing;

/// <summary>
/// The exchange before a framed connection's first frame: each end proves it holds the cluster
/// token without sending it, by an HMAC over fresh nonces from both ends (the key derived from the
/// token). The server proves itself first, so a client never sends anything that depends on the
/// token to a listener that does not hold it. All messages have fixed sizes: nothing read before
/// the peer is proven sizes an allocation.
/// <code>
/// client → server  hello    "TRRM" | version | client nonce (32)
/// server → client  answer   "TRRM" | version | server nonce (32) | HMAC(key, "server" | nonces) (32)
/// client → server  proof    HMAC(key, "client" | nonces) (32)
/// server → client  verdict  1 = accepted; 0 = refused, and the server closes the connection
/// </code>
/// A server that speaks another version answers with its version and zeros, then closes.
/// </summary>
public static class FrameHandshake
{
    /// <summary>The version of the framing this build speaks.</summary>
    public const byte Version = 1;

    private const int NonceBytes = 32;
    private const int ProofBytes = 32;
    private const int HelloBytes = 4 + 1 + NonceBytes;
    private const int AnswerBytes = 4 + 1 + NonceBytes + ProofBytes;
    private const byte Accepted = 1;
    private const byte Refused = 0;
    private static readonly byte[] Magic = "TRRM"u8.ToArray();
    private static readonly byte[] KeyLabel = "terrarium framed connection key"u8.ToArray();

    /// <summary>The key both ends derive from the cluster token; the token itself stays in memory.</summary>
    public static byte[] KeyOf(string token)
    {
        ArgumentException.ThrowIfNullOrEmpty(token);
        return HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(token), 32, salt: [], info: KeyLabel);
    }

    /// <summary>Proves this client and checks the server, on a fresh connection.</summary>
    /// <exception cref="FrameHandshakeException">The server does not hold the token, refused this client, or speaks another version.</exception>
    public static async Task AsClientAsync(Stream stream, byte[] key, CancellationToken ct)
    {
        var hello = new byte[HelloBytes];
        Magic.CopyTo(hello, 0);
        hello[4] = Version;
        var clientNonce = RandomNumberGenerator.GetBytes(NonceBytes);
        clientNonce.CopyTo(hello, 5);
        await stream.WriteAsync(hello, ct).ConfigureAwait(false);
        await stream.FlushAsync(ct).ConfigureAwait(false);

        var answer = new byte[AnswerBytes];
        await ReadAnswerAsync(stream, answer, ct).ConfigureAwait(false);
        if (!answer.AsSpan(0, 4).SequenceEqual(Magic))
        {
            throw new FrameHandshakeException("the server did not answer as a Terrarium framed endpoint does");
        }

        if (answer[4] != Version)
        {
            throw new FrameHandshakeException($"the server speaks framing version {answer[4]}, this process version {Version}: run one Terrarium version across the cluster");
        }

        var serverNonce = answer.AsSpan(5, NonceBytes).ToArray();
        if (!CryptographicOperations.FixedTimeEquals(answer.AsSpan(5 + NonceBytes, ProofBytes), Proof(key, "server", clientNonce, serverNonce)))
        {
            throw new FrameHandshakeException("the server does not hold the cluster token: it is not this cluster's (check the address and the token)");
        }

        await stream.WriteAsync(Proof(key, "client", clientNonce, serverNonce), ct).ConfigureAwait(false);
        await stream.FlushAsync(ct).ConfigureAwait(false);
        var verdict = new byte[1];
        if (await stream.ReadAtLeastAsync(verdict, 1, throwOnEndOfStream: false, ct).ConfigureAwait(false) == 0 || verdict[0] != Accepted)
        {
            throw new FrameHandshakeException("the server refused this client's proof of the cluster token");
        }
    }

    /// <summary>Checks a client and proves this server, on a fresh connection.</summary>
    /// <returns>False when the client was refused (it has been told; close the connection and read nothing more).</returns>
    public static async Task<bool> AsServerAsync(Stream stream, byte[] key, CancellationToken ct)
    {
        var hello = new byte[HelloBytes];
        if (await stream.ReadAtLeastAsync(hello, HelloBytes, throwOnEndOfStream: false, ct).ConfigureAwait(false) < HelloBytes ||
            !hello.AsSpan(0, 4).SequenceEqual(Magic))
        {
            return false;
        }

        var answer = new byte[AnswerBytes];
        Magic.CopyTo(answer, 0);
        answer[4] = Version;
        if (hello[4] != Version)
        {
            // Our version and nothing else: the client says what differs.
            await stream.WriteAsync(answer, ct).ConfigureAwait(false);
            await stream.FlushAsync(ct).ConfigureAwait(false);
            return false;
        }

        var clientNonce = hello.AsSpan(5, NonceBytes).ToArray();
        var serverNonce = RandomNumberGenerator.GetBytes(NonceBytes);
        serverNonce.CopyTo(answer, 5);
        Proof(key, "server", clientNonce, serverNonce).CopyTo(answer, 5 + NonceBytes);
        await stream.WriteAsync(answer, ct).ConfigureAwait(false);
        await stream.FlushAsync(ct).ConfigureAwait(false);

        var proof = new byte[ProofBytes];
        var proven = await stream.ReadAtLeastAsync(proof, ProofBytes, throwOnEndOfStream: false, ct).ConfigureAwait(false) == ProofBytes &&
            CryptographicOperations.FixedTimeEquals(proof, Proof(key, "client", clientNonce, serverNonce));
        await stream.WriteAsync(new[] { proven ? Accepted : Refused }, ct).ConfigureAwait(false);
        await stream.FlushAsync(ct).ConfigureAwait(false);
        return proven;
    }

    private static async Task ReadAnswerAsync(Stream stream, byte[] answer, CancellationToken ct)
    {
        if (await stream.ReadAtLeastAsync(answer, answer.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false) < answer.Length)
        {
            throw new FrameHandshakeException("the server closed the connection during the handshake: it is not a Terrarium framed endpoint, or it refused this client");
        }
    }

    // The label keeps a proof from one role from being replayed as the other's.
    private static byte[] Proof(byte[] key, string role, byte[] clientNonce, byte[] serverNonce)
    {
        var message = new byte[role.Length + clientNonce.Length + serverNonce.Length];
        Encoding.ASCII.GetBytes(role).CopyTo(message, 0);
        clientNonce.CopyTo(message, role.Length);
        serverNonce.CopyTo(message, role.Length + clientNonce.Length);
        return HMACSHA256.HashData(key, message);
    }
}

/// <summary>A framed connection's handshake failed; the message says which end and why.</summary>
public sealed class FrameHandshakeException(string message) : IOException(message);
