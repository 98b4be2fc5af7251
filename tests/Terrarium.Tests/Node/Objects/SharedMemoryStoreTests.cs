using Google.Protobuf;
using Mono.Unix.Native;
using Terrarium.Node.Objects;
using Terrarium.Protocol;
using Terrarium.Protocol.LocalFiles;
using Terrarium.Protocol.SharedMemory;

namespace Terrarium.Tests.Node.Objects;

/// <summary>
/// The node's shared-memory object store, on the machine's real /dev/shm (each test in a root of
/// its own): where it agrees to live, what it takes over from workers, and what releasing leaves.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SharedMemoryStoreTests : IDisposable
{
    private readonly string _root = Path.Combine("/dev/shm", $"terrarium-test-{Guid.NewGuid():N}");
    private readonly string _spill = Directory.CreateTempSubdirectory("terrarium-spill-").FullName;

    public SharedMemoryStoreTests()
    {
        Requirements.SharedMemory();
        Directory.CreateDirectory(_root);
    }

    private string UserFolder => Path.Combine(_root, $"terrarium-{PrivateDirectory.CurrentUserId}");

    public void Dispose()
    {
        foreach (var folder in new[] { _root, _spill })
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    [SkippableFact]
    public void Open_OnATmpfs_MakesFoldersOnlyThisUserMayEnter_AndSaysWhereLargeValuesLive()
    {
        var (store, location) = SharedMemoryStore.Open(_root, "node-a", _spill);
        using (store)
        {
            Assert.NotNull(store);
            Assert.StartsWith($"shared memory at {UserFolder}/node-a (", location, StringComparison.Ordinal);
            foreach (var folder in new[] { UserFolder, store.Folder, store.Staging, store.Sealed })
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
            }
        }

        Assert.False(Directory.Exists(Path.Combine(UserFolder, "node-a")), "the node's folder goes when the store is disposed");
    }

    [SkippableFact]
    public void Open_WhenTheUsersFolderIsALink_RefusesIt_AndLargeValuesStayInTheNodesMemory()
    {
        var elsewhere = Directory.CreateDirectory(Path.Combine(_root, "elsewhere")).FullName;
        File.CreateSymbolicLink(UserFolder, elsewhere);

        var (store, location) = SharedMemoryStore.Open(_root, "node-a", _spill);

        Assert.Null(store);
        Assert.StartsWith("the node's own memory: refusing to use", location, StringComparison.Ordinal);
        Assert.Contains("symbolic link", location, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(elsewhere));
    }

    [SkippableFact]
    public void Open_WhenAnotherUserPlantedTheUsersFolder_RefusesIt()
    {
        Requirements.Root();
        Directory.CreateDirectory(UserFolder);
        Assert.Equal(0, Syscall.chown(UserFolder, 65534, 65534));

        var (store, location) = SharedMemoryStore.Open(_root, "node-a", _spill);

        Assert.Null(store);
        Assert.Contains("owned by uid 65534", location, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(UserFolder));
    }

    [Fact]
    public void Open_OnAFolderThatIsNotATmpfs_KeepsLargeValuesInTheNodesMemory_SayingWhy()
    {
        var disk = Directory.CreateTempSubdirectory("terrarium-not-tmpfs-").FullName;
        try
        {
            Skip.If(File.ReadLines("/proc/self/mounts").Any(l => l.Split(' ') is [_, var point, "tmpfs", ..] && disk.StartsWith(point + "/", StringComparison.Ordinal)),
                "the temp folder is on a tmpfs here");

            var (store, location) = SharedMemoryStore.Open(disk, "node-a", _spill);

            Assert.Null(store);
            Assert.Equal($"the node's own memory: {disk} is not a tmpfs", location);
        }
        finally
        {
            Directory.Delete(disk, recursive: true);
        }
    }

    [Fact]
    public void Open_WithNoRoot_KeepsLargeValuesInTheNodesMemory()
    {
        var (store, location) = SharedMemoryStore.Open(null, "node-a", _spill);

        Assert.Null(store);
        Assert.Equal("the node's own memory (no shared-memory store configured)", location);
    }

    [SkippableFact]
    public void Open_RemovesTheFoldersOfNodesThatDied_AndLeavesLiveOnes()
    {
        var (live, _) = SharedMemoryStore.Open(_root, "node-live", _spill);
        using (live)
        {
            var dead = Directory.CreateDirectory(Path.Combine(UserFolder, "node-dead")).FullName;
            File.WriteAllText(Path.Combine(dead, StoreLayout.OwnerLock), "");
            File.WriteAllBytes(Path.Combine(dead, "left-behind"), new byte[1024]);
            Directory.CreateDirectory(Path.Combine(_spill, "node-dead"));

            var (next, _) = SharedMemoryStore.Open(_root, "node-next", _spill);
            next!.Dispose();

            Assert.False(Directory.Exists(dead), "a dead node's folder is removed");
            Assert.False(Directory.Exists(Path.Combine(_spill, "node-dead")), "and what it spilled to disk");
            Assert.True(Directory.Exists(live!.Folder), "a live node's folder stays");
            Assert.True(StoreLayout.OwnerIsAlive(live.Folder));
            Assert.False(StoreLayout.OwnerIsAlive(dead));
        }
    }

    [SkippableFact]
    public void TakeOver_MovesTheStagedValueToTheSealedFolder_ReadOnly_AndMapsIt()
    {
        var (store, _) = SharedMemoryStore.Open(_root, "node-a", _spill);
        using (store)
        {
            var bytes = Pattern(3 << 20);
            var staged = StagedValue.Write(store!.Staging, UnsafeByteOperations.UnsafeWrap(bytes));

            var value = store.TakeOver(staged, store.Staging);

            Assert.True(value.Span.SequenceEqual(bytes));
            var path = Assert.Single(Directory.GetFiles(store.Sealed));
            Assert.Equal(path, MappedValue.Of(value)!.Path);
            Assert.Equal(UnixFileMode.UserRead, File.GetUnixFileMode(path));
            Assert.Empty(Directory.GetFiles(store.Staging));
        }
    }

    [SkippableFact]
    public void TakeOver_OfALinkInTheStagingFolder_IsRefused_AndNothingIsMappedOrLeft()
    {
        var (store, _) = SharedMemoryStore.Open(_root, "node-a", _spill);
        using (store)
        {
            var target = Path.Combine(_root, "outside");
            File.WriteAllBytes(target, new byte[4096]);
            var name = Guid.NewGuid().ToString("N");
            File.CreateSymbolicLink(Path.Combine(store!.Staging, name), target);

            var error = Assert.Throws<IOException>(() => store.TakeOver(new StoredValue { FileName = name, Length = 4096 }, store.Staging));

            Assert.Contains("cannot open the stored value", error.Message, StringComparison.Ordinal);
            Assert.Empty(Directory.GetFileSystemEntries(store.Sealed));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(target) & (UnixFileMode.UserRead | UnixFileMode.UserWrite));
        }
    }

    [SkippableTheory]
    [InlineData("../escape")]
    [InlineData("")]
    [InlineData("..")]
    [InlineData("0123456789abcdef0123456789abcde\0")]
    [InlineData("0123456789ABCDEF0123456789ABCDEF")]
    public void TakeOver_OfANameOutsideTheStagingFolder_IsRefused(string name)
    {
        var (store, _) = SharedMemoryStore.Open(_root, "node-a", _spill);
        using (store)
        {
            var error = Assert.Throws<IOException>(() => store!.TakeOver(new StoredValue { FileName = name, Length = 1 }, store.Staging));

            Assert.Contains("is not the name of a file in the staging folder", error.Message, StringComparison.Ordinal);
        }
    }

    [SkippableFact]
    public void TakeOver_OfAValueShorterThanAnnounced_IsRefused_NamingBothLengths()
    {
        var (store, _) = SharedMemoryStore.Open(_root, "node-a", _spill);
        using (store)
        {
            var staged = StagedValue.Write(store!.Staging, ByteString.CopyFrom(new byte[1000]));
            staged.Length = 2000;

            var error = Assert.Throws<IOException>(() => store.TakeOver(staged, store.Staging));

            Assert.Contains("holds 1000 bytes, not the 2000 announced", error.Message, StringComparison.Ordinal);
            Assert.Empty(Directory.GetFileSystemEntries(store.Sealed));
        }
    }

    [SkippableFact]
    public void Remove_DeletesTheValuesFile_WhileAMappingOfItStaysReadable()
    {
        var (store, _) = SharedMemoryStore.Open(_root, "node-a", _spill);
        using (store)
        {
            var bytes = Pattern(2 << 20);
            var value = store!.TakeOver(StagedValue.Write(store.Staging, UnsafeByteOperations.UnsafeWrap(bytes)), store.Staging);
            var elsewhere = MappedValue.Map(MappedValue.Of(value)!.Path, bytes.Length);

            SharedMemoryStore.Remove(value);

            Assert.Empty(Directory.GetFiles(store.Sealed));
            Assert.True(value.Span.SequenceEqual(bytes));
            Assert.True(elsewhere.Span.SequenceEqual(bytes));
        }
    }

    private static byte[] Pattern(int length)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        return bytes;
    }
}
