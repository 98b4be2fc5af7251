using System.Security.Cryptography;
using Terrarium.Protocol;
using Terrarium.Protocol.Framing;
using Terrarium.Protocol.Objects;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.SharedMemory;
using Terrarium.Protocol.Transport;

namespace Terrarium.Tests.Protocol.Objects;

/// <summary>
/// The object transfer channel over real sockets: values cross whole into a store file or a
/// buffer, one connection serves fetch after fetch, a node's refusal says why and leaves the
/// connection usable, a value cut short fails and leaves no file, and a client reaches a node of
/// this machine on its Unix socket, else over TCP.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ObjectTransferTests : IAsyncLifetime
{
    private const string Token = "object-transfer-tests-token-0123456789";
    private const string NodeId = "node-serving";
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("terrarium-transfer-");
    private readonly List<FramedListener> _listeners = [];
    private readonly Dictionary<string, byte[]> _values = new(StringComparer.Ordinal);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var listener in _listeners)
        {
            await listener.DisposeAsync();
        }

        _folder.Delete(recursive: true);
    }

    [Fact]
    public async Task Values_CrossWhole_IntoAStoreFileAndIntoABuffer_OneAfterAnotherOnOneConnection()
    {
        // Not a multiple of the piece size, so the last piece is short.
        _values["big"] = RandomNumberGenerator.GetBytes((3 << 20) + 17);
        _values["small"] = RandomNumberGenerator.GetBytes(5);
        var endpoint = Serve();
        var staging = Directory.CreateDirectory(Path.Combine(_folder.FullName, "staging")).FullName;
        await using var connection = await FramedClient.ConnectAsync(endpoint, ClusterCredentials.UnixOnly(Token), ObjectTransfer.MaxFrameBytes, CancellationToken.None);

        StoredValue stored;
        using (var file = await ObjectTransfer.FetchAsync(connection, Fetch("big"), length => StagedValue.Open(staging, length), CancellationToken.None))
        {
            stored = file.Seal();
        }

        using var buffer = await ObjectTransfer.FetchAsync(connection, Fetch("small"), length => new BufferSink(length), CancellationToken.None);

        Assert.Equal(_values["big"], await File.ReadAllBytesAsync(Path.Combine(staging, stored.FileName)));
        Assert.Equal(_values["small"], buffer.Value.ToByteArray());
    }

    [Fact]
    public async Task AValueTheNodeDoesNotHold_IsRefusedSayingWhy_AndTheConnectionServesTheNextFetch()
    {
        _values["there"] = RandomNumberGenerator.GetBytes(1000);
        var endpoint = Serve();
        await using var connection = await FramedClient.ConnectAsync(endpoint, ClusterCredentials.UnixOnly(Token), ObjectTransfer.MaxFrameBytes, CancellationToken.None);

        var refused = await Assert.ThrowsAsync<ObjectTransferException>(() =>
            ObjectTransfer.FetchAsync(connection, Fetch("gone"), length => new BufferSink(length), CancellationToken.None));
        using var next = await ObjectTransfer.FetchAsync(connection, Fetch("there"), length => new BufferSink(length), CancellationToken.None);

        Assert.Equal($"node {NodeId} does not hold object 'gone'", refused.Message);
        Assert.False(refused.WrongNode);
        Assert.Equal(_values["there"], next.Value.ToByteArray());
    }

    [Fact]
    public async Task AValueCutShort_FailsSayingHowMuchCame_AndLeavesNoFileInTheStore()
    {
        var endpoint = Listen(async (connection, ct) =>
        {
            await connection.ReadAsync(ct);
            await connection.SendAsync(ObjectTransfer.Reply, new ObjectFetchReply { Length = 1000 }, ct);
            await connection.SendRawAsync(new byte[300], ct);
        });
        var staging = Directory.CreateDirectory(Path.Combine(_folder.FullName, "staging")).FullName;
        await using var connection = await FramedClient.ConnectAsync(endpoint, ClusterCredentials.UnixOnly(Token), ObjectTransfer.MaxFrameBytes, CancellationToken.None);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() =>
            ObjectTransfer.FetchAsync(connection, Fetch("x"), length => StagedValue.Open(staging, length), CancellationToken.None));

        Assert.Equal("the connection closed after 300 of the 1000 bytes of object x", error.Message);
        Assert.Empty(Directory.GetFiles(staging));
    }

    [Fact]
    public async Task ANegativeLength_IsRefusedAsBrokenProtocol_BeforeAnythingIsMadeForIt()
    {
        var endpoint = Listen(async (connection, ct) =>
        {
            await connection.ReadAsync(ct);
            await connection.SendAsync(ObjectTransfer.Reply, new ObjectFetchReply { Length = -5 }, ct);
        });
        await using var connection = await FramedClient.ConnectAsync(endpoint, ClusterCredentials.UnixOnly(Token), ObjectTransfer.MaxFrameBytes, CancellationToken.None);
        var opened = false;

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => ObjectTransfer.FetchAsync(connection, Fetch("x"), length =>
        {
            opened = true;
            return new BufferSink(length);
        }, CancellationToken.None));

        Assert.Equal("the node announced a value of -5 bytes for object x", error.Message);
        Assert.False(opened);
    }

    [Fact]
    public async Task AnAddressThatSwallowsPackets_IsATimeoutThatCountsAsUnreachable_NotACancellation()
    {
        // Accepts the connection and never answers the handshake, as a black-holing firewall would look.
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        var address = Endpoint.Tcp("127.0.0.1", ((System.Net.IPEndPoint)silent.LocalEndpoint).Port);

        var error = await Assert.ThrowsAsync<TimeoutException>(() => FramedClient.ConnectAsync(address, new ClusterCredentials(Token, ClusterTls.Insecure), ObjectTransfer.MaxFrameBytes, CancellationToken.None));

        Assert.True(FramedClient.IsUnreachable(error));
        Assert.Equal($"no framed connection to {address} within 10 s", error.Message);
    }

    [Fact]
    public async Task AClient_ReachesANodeOfThisMachineOnItsUnixSocket()
    {
        _values["v"] = RandomNumberGenerator.GetBytes(4096);
        var socket = Serve();
        await using var client = new ObjectTransferClient(ClusterCredentials.UnixOnly(Token));
        var node = new NodeInfo { NodeId = NodeId, ObjectSocket = socket.SocketPath!, BootId = MachineIdentity.BootId };

        using var buffer = await client.FetchAsync(node, "v", length => new BufferSink(length), CancellationToken.None);

        Assert.Equal(_values["v"], buffer.Value.ToByteArray());
    }

    [Theory]
    [InlineData("missing socket")]
    [InlineData("another node's socket")]
    public async Task AClient_WhoseUnixSocketIsNotTheNodes_FetchesOverTcp(string unixSide)
    {
        _values["v"] = RandomNumberGenerator.GetBytes(4096);
        using var authority = ClusterCertificateAuthority.CreateEphemeral();
        var trust = ClusterTls.Trusting([authority.Certificate]);
        var tcp = Serve(new ClusterCredentials(Token, trust.WithServerCertificate(authority.IssueWithNewKey("node", ["127.0.0.1"]))), Endpoint.Tcp("127.0.0.1", 0));
        var socket = unixSide == "missing socket" ? Path.Combine(_folder.FullName, "none.sock") : Serve(servedNode: "node-other").SocketPath!;
        await using var client = new ObjectTransferClient(new ClusterCredentials(Token, trust));
        var node = new NodeInfo { NodeId = NodeId, ObjectSocket = socket, ObjectAddress = tcp.ToString(), BootId = MachineIdentity.BootId };

        using var buffer = await client.FetchAsync(node, "v", length => new BufferSink(length), CancellationToken.None);

        Assert.Equal(_values["v"], buffer.Value.ToByteArray());
    }

    [Fact]
    public async Task AClient_OfAnotherMachine_NeverTriesTheUnixSocket_AndANodeWithNoAddressItCanReachIsAnError()
    {
        await using var client = new ObjectTransferClient(ClusterCredentials.UnixOnly(Token));
        var node = new NodeInfo { NodeId = NodeId, ObjectSocket = Serve().SocketPath!, BootId = "another-machine" };

        Assert.Empty(ObjectTransferClient.AddressesOf(node));
        var error = await Assert.ThrowsAsync<ObjectTransferException>(() => client.FetchAsync(node, "v", length => new BufferSink(length), CancellationToken.None));
        Assert.Equal($"node {NodeId} has no object transfer address this process can reach", error.Message);
    }

    [Fact]
    public void ASink_RefusesPiecesPastItsLength_AndSaysWhatIsMissing()
    {
        using var sink = new BufferSink(4);
        sink.Write([1, 2, 3]);

        Assert.Equal("the value ended after 3 of its 4 bytes", Assert.Throws<InvalidDataException>(sink.EnsureWhole).Message);
        Assert.Equal("the value's pieces exceed its announced length of 4 bytes", Assert.Throws<InvalidDataException>(() => sink.Write([4, 5])).Message);
        Assert.Throws<InvalidDataException>(() => new BufferSink(MessageLimits.MaxValueBytes + 1L));
    }

    private static ObjectFetch Fetch(string objectId) => new() { ObjectId = objectId, NodeId = NodeId };

    /// <summary>Serves <see cref="_values"/> as a node named <paramref name="servedNode"/> does: a refusal for what it does not hold or another node's fetch.</summary>
    private Endpoint Serve(ClusterCredentials? credentials = null, Endpoint? endpoint = null, string servedNode = NodeId) =>
        Listen(async (connection, ct) =>
        {
            while (await connection.ReadAsync(ct) is { } frame)
            {
                var fetch = ObjectFetch.Parser.ParseFrom(frame.Payload);
                if (fetch.NodeId != servedNode)
                {
                    await connection.SendAsync(ObjectTransfer.Reply, new ObjectFetchReply { Error = $"this is node {servedNode}", WrongNode = true }, ct);
                }
                else if (_values.TryGetValue(fetch.ObjectId, out var value))
                {
                    await ObjectTransfer.SendValueAsync(connection, value, ct);
                }
                else
                {
                    await connection.SendAsync(ObjectTransfer.Reply, new ObjectFetchReply { Error = $"node {servedNode} does not hold object '{fetch.ObjectId}'" }, ct);
                }
            }
        }, credentials, endpoint);

    private Endpoint Listen(Func<FramedConnection, CancellationToken, Task> handler, ClusterCredentials? credentials = null, Endpoint? endpoint = null)
    {
        var listener = FramedListener.Start(endpoint ?? Endpoint.UnixSocket(Path.Combine(_folder.FullName, $"{Guid.NewGuid():N}.sock")),
            credentials ?? ClusterCredentials.UnixOnly(Token), ObjectTransfer.MaxFrameBytes, handler);
        _listeners.Add(listener);
        return listener.Endpoint;
    }
}
