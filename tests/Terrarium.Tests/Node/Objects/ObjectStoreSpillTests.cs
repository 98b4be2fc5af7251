using Google.Protobuf;
using Terrarium.Node.Objects;
using Terrarium.Node.Sessions;
using Terrarium.Protocol;
using Terrarium.Protocol.SharedMemory;

namespace Terrarium.Tests.Node.Objects;

/// <summary>
/// The shared-memory store's capacity, on the machine's real /dev/shm: past it, the least recently
/// used values go to disk and stay readable; what is released goes wherever it is.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ObjectStoreSpillTests : IDisposable
{
    private const int Value = 2 << 20;
    private static readonly Session Owner = new("s1", new OpenSession { JobId = "job-a", JobCodeDir = "/" });
    private readonly string _root = Path.Combine("/dev/shm", $"terrarium-test-{Guid.NewGuid():N}");
    private readonly string _spill = Directory.CreateTempSubdirectory("terrarium-spill-").FullName;
    private readonly SharedMemoryStore _shared;
    private readonly ObjectStore _objects;

    public ObjectStoreSpillTests()
    {
        Requirements.SharedMemory();
        Directory.CreateDirectory(_root);
        _shared = SharedMemoryStore.Open(_root, "node-a", _spill).Store!;
        // Room for two values: a third sends the least recently used to disk.
        _objects = new ObjectStore(_shared, "shared memory", capacity: (2 * Value) + 1000);
    }

    public void Dispose()
    {
        _objects.Dispose();
        Directory.Delete(_root, recursive: true);
        Directory.Delete(_spill, recursive: true);
    }

    [SkippableFact]
    public async Task OverCapacity_TheLeastRecentlyUsedValueGoesToDisk_AndStaysReadable()
    {
        Put("v1", 1);
        Put("v2", 2);
        Assert.NotNull(_objects.Find("v1"));
        Put("v3", 3);

        // Counted once the node reads the value from disk (the copy itself shows up before that).
        await UntilAsync(() => _objects.Location.EndsWith(" 1 values spilled to disk", StringComparison.Ordinal));

        var spilled = (await _objects.Find("v2")!).Value!;
        Assert.StartsWith(_shared.SpillFolder + "/", MappedValue.Of(spilled)!.Path, StringComparison.Ordinal);
        Assert.True(spilled.Span.SequenceEqual(Bytes(2)));
        Assert.Equal(2, Directory.GetFiles(_shared.Sealed).Length);
        Assert.True((await _objects.Find("v1")!).Value!.Span.SequenceEqual(Bytes(1)));
        Assert.Contains("1 values spilled to disk", _objects.Location, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task SpilledValue_Released_LeavesTheDisk_AndAValueMappedBeforeTheSpillStaysReadable()
    {
        var first = Put("v1", 1);
        Put("v2", 2);
        Put("v3", 3);
        // Counted once the node reads the value from disk (the copy itself shows up before that).
        await UntilAsync(() => _objects.Location.EndsWith(" 1 values spilled to disk", StringComparison.Ordinal));

        _objects.Release("v1");

        Assert.Empty(Directory.GetFiles(_shared.SpillFolder));
        Assert.True(first.Span.SequenceEqual(Bytes(1)), "the value mapped before (now from disk, its file gone) still reads the same");
    }

    private ByteString Put(string id, byte seed)
    {
        var value = _shared.TakeOver(StagedValue.Write(_shared.Staging, ByteString.CopyFrom(Bytes(seed))), _shared.Staging);
        Assert.True(_objects.TryPut(id, Owner, new ObjectResult(value, null)));
        return value;
    }

    private static byte[] Bytes(byte seed)
    {
        var bytes = new byte[Value];
        Array.Fill(bytes, seed);
        return bytes;
    }

    private static async Task UntilAsync(Func<bool> condition)
    {
        for (var waited = 0; !condition(); waited++)
        {
            Assert.True(waited < 3000, "the spill did not happen");
            await Task.Delay(10);
        }
    }
}
