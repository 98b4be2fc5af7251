using Google.Protobuf;
using Terrarium.Node;
using Terrarium.Node.Objects;
using Terrarium.Node.Sessions;
using Terrarium.Protocol;
using Terrarium.Protocol.Objects;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.SharedMemory;
using Terrarium.Protocol.Transport;

namespace Terrarium.Tests.Node.Objects;

/// <summary>
/// A node's object transfer server, on a real Unix socket, with a real shared-memory store behind
/// it: it sends a value from its mapping, waits for one still being made, says why when it has
/// none, and keeps sending a value whose owner released it mid-way.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ObjectTransferServerTests : IAsyncLifetime
{
    private const string Token = "transfer-server-tests-token-0123456789";
    private static readonly Session Owner = new("s1", new OpenSession { JobId = "job-a", JobCodeDir = "/" });
    private readonly string _root = Path.Combine("/dev/shm", $"terrarium-test-{Guid.NewGuid():N}");
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("terrarium-transfer-node-");
    private readonly SharedMemoryStore _shared;
    private readonly ObjectStore _objects;
    private readonly ObjectTransferServer _server;
    private readonly ObjectTransferClient _client = new(ClusterCredentials.UnixOnly(Token));
    private readonly NodeInfo _node;
    private readonly DetachedSessions _sessions;

    public ObjectTransferServerTests()
    {
        Requirements.SharedMemory();
        Directory.CreateDirectory(_root);
        _shared = SharedMemoryStore.Open(_root, "node-a", Path.Combine(_folder.FullName, "spilled")).Store!;
        _objects = new ObjectStore(_shared, "shared memory");
        var options = new NodeOptions { NodeId = "node-a", SessionDirectory = _folder.FullName, Endpoints = [Endpoint.UnixSocket(Path.Combine(_folder.FullName, "node.sock"))] };
        _sessions = new DetachedSessions(options);
        _sessions.Attached(Owner);
        _server = new ObjectTransferServer(options, ClusterCredentials.UnixOnly(Token), _objects, _sessions);
        _server.Start(advertisedHost: null);
        _node = new NodeInfo { NodeId = "node-a", ObjectSocket = _server.Socket, ObjectAddress = _server.Address, BootId = MachineIdentity.BootId };
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _server.DisposeAsync();
        _objects.Dispose();
        _sessions.Dispose();
        Directory.Delete(_root, recursive: true);
        _folder.Delete(recursive: true);
    }

    [SkippableFact]
    public async Task AStoredValue_IsSent_AndOneStillBeingMade_OnceItIsMade()
    {
        var made = Bytes(3 << 20, 7);
        Assert.True(_objects.TryCreate("ready", Owner));
        _objects.Complete("ready", new ObjectResult(Stored(made), null));
        Assert.True(_objects.TryCreate("later", Owner));

        var later = _client.FetchAsync(_node, "later", length => new BufferSink(length), CancellationToken.None);
        using (var ready = await _client.FetchAsync(_node, "ready", length => new BufferSink(length), CancellationToken.None))
        {
            Assert.Equal(made, ready.Value.ToByteArray());
        }

        Assert.False(later.IsCompleted);
        _objects.Complete("later", new ObjectResult(ByteString.CopyFromUtf8("made now"), null));
        using var value = await later.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("made now", value.Value.ToStringUtf8());
        Assert.Equal("", _server.Address);
    }

    [SkippableFact]
    public async Task WhatTheNodeCannotSend_IsRefusedWithTodaysTexts()
    {
        Assert.True(_objects.TryCreate("failed", Owner));
        _objects.Complete("failed", ObjectResult.Failed(new TaskError { Kind = ErrorKind.Application, Message = "it threw" }));

        var missing = await Assert.ThrowsAsync<ObjectTransferException>(() => _client.FetchAsync(_node, "never", length => new BufferSink(length), CancellationToken.None));
        var failed = await Assert.ThrowsAsync<ObjectTransferException>(() => _client.FetchAsync(_node, "failed", length => new BufferSink(length), CancellationToken.None));
        var other = await Assert.ThrowsAsync<ObjectTransferException>(() =>
            _client.FetchAsync(new NodeInfo { NodeId = "node-b", ObjectSocket = _server.Socket, BootId = MachineIdentity.BootId }, "failed", length => new BufferSink(length), CancellationToken.None));

        Assert.Equal("node node-a does not hold object 'never' (released or never created)", missing.Message);
        Assert.Equal("object 'failed' has no value: it threw", failed.Message);
        Assert.True(other.WrongNode);
        Assert.Equal("this is node node-a, not node 'node-b'", other.Message);
    }

    [SkippableFact]
    public async Task AValueReleasedWhileItIsSent_ArrivesWhole()
    {
        var made = Bytes(64 << 20, 3);
        Assert.True(_objects.TryCreate("v", Owner));
        _objects.Complete("v", new ObjectResult(Stored(made), null));
        var staging = _shared.StagingFor("test-copies");

        var fetching = _client.FetchAsync(_node, "v", length =>
        {
            // The node has answered with the length and is sending: the owner lets go now.
            _objects.Release("v");
            return StagedValue.Open(staging, length);
        }, CancellationToken.None);
        using var file = await fetching.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Empty(Directory.GetFiles(_shared.Sealed));
        Assert.Equal(made, await File.ReadAllBytesAsync(Path.Combine(staging, file.Seal().FileName)));
    }

    [SkippableFact]
    public async Task ANodeThatServesTcp_SendsToOtherMachinesOverTls_AtItsAdvertisedHost()
    {
        using var authority = ClusterCertificateAuthority.CreateEphemeral();
        var trust = ClusterTls.Trusting([authority.Certificate]);
        var options = new NodeOptions
        {
            NodeId = "node-a",
            SessionDirectory = Directory.CreateDirectory(Path.Combine(_folder.FullName, "tcp")).FullName,
            Endpoints = [Endpoint.UnixSocket(Path.Combine(_folder.FullName, "tcp", "node.sock")), Endpoint.Tcp("0.0.0.0", 0)],
        };
        await using var server = new ObjectTransferServer(options, new ClusterCredentials(Token, trust.WithServerCertificate(authority.IssueWithNewKey("node-a", ["127.0.0.1"]))), _objects, _sessions);
        server.Start(advertisedHost: "127.0.0.1");
        await using var client = new ObjectTransferClient(new ClusterCredentials(Token, trust));
        var made = Bytes(2 << 20, 9);
        Assert.True(_objects.TryCreate("v", Owner));
        _objects.Complete("v", new ObjectResult(Stored(made), null));

        var fromAnotherMachine = new NodeInfo { NodeId = "node-a", ObjectSocket = server.Socket, ObjectAddress = server.Address, BootId = "another-machine" };
        using var value = await client.FetchAsync(fromAnotherMachine, "v", length => new BufferSink(length), CancellationToken.None);

        Assert.StartsWith("127.0.0.1:", server.Address, StringComparison.Ordinal);
        Assert.Equal(made, value.Value.ToByteArray());
    }

    [SkippableFact]
    public async Task APut_LandsInTheSessionsStagingAndIsTakenOver_ForItsPutObject_AndOneForNoSessionIsRefused_TheConnectionInStep()
    {
        var value = Bytes((2 << 20) + 3, 5);

        await _client.PutAsync(_node, Owner.Id, "put-1", value, CancellationToken.None);
        var refused = await Assert.ThrowsAsync<ObjectTransferException>(() => _client.PutAsync(_node, "no-such-session", "put-2", value, CancellationToken.None));
        await _client.PutAsync(_node, Owner.Id, "put-3", value.AsMemory(0, 10), CancellationToken.None);

        Assert.True(Owner.Uploads.TryGetValue("put-1", out var uploaded));
        Assert.Equal(value, uploaded.ToByteArray());
        Assert.StartsWith(_shared.Sealed + "/", MappedValue.Of(uploaded)!.Path, StringComparison.Ordinal);
        Assert.Equal("node node-a has no session 'no-such-session'", refused.Message);
        Assert.False(Owner.Uploads.ContainsKey("put-2"));
        Assert.Equal(value.AsSpan(0, 10).ToArray(), Owner.Uploads["put-3"].ToByteArray());
    }

    [SkippableFact]
    public async Task APutNoPutObjectClaims_LeavesTheStore_WhenItsSessionEnds()
    {
        var session = new Session("s-ends", new OpenSession { JobId = "job-a", JobCodeDir = "/" });
        _sessions.Attached(session);
        await _client.PutAsync(_node, session.Id, "unclaimed", Bytes(2 << 20, 4), CancellationToken.None);
        Assert.Single(Directory.GetFiles(_shared.Sealed));

        session.DropUnclaimedUploads();

        Assert.Empty(Directory.GetFiles(_shared.Sealed));
        Assert.Empty(session.Uploads);
    }

    private ByteString Stored(byte[] bytes) =>
        _shared.TakeOver(StagedValue.Write(_shared.Staging, ByteString.CopyFrom(bytes)), _shared.Staging);

    private static byte[] Bytes(int length, byte seed)
    {
        var bytes = new byte[length];
        Array.Fill(bytes, seed);
        bytes[^1] = (byte)(seed + 1);
        return bytes;
    }
}
