using System.Runtime.InteropServices;
using Terrarium.Protocol.SharedMemory;

namespace Terrarium.IntegrationTests;

/// <summary>
/// Large values through a node's shared-memory store, with real workers, on the machine's real
/// /dev/shm (each test in a root of its own): held once, mapped by the driver, gone on release
/// while what was mapped stays readable, and the node's own memory when the store cannot be used.
/// </summary>
public sealed class SharedMemoryObjectTests : IDisposable
{
    private readonly string _root = Path.Combine("/dev/shm", $"terrarium-test-{Guid.NewGuid():N}");

    public SharedMemoryObjectTests()
    {
        Requirements.That(File.ReadLines("/proc/self/mounts").Any(l => l.Split(' ') is [_, "/dev/shm", "tmpfs", ..]), "it needs a tmpfs at /dev/shm");
        Directory.CreateDirectory(_root);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [SkippableFact]
    public async Task LargeResult_IsOneSealedFileOfTheNodesStore_TheDriverMapsIt_AndReleasingItLeavesTheMappingReadable()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { LogToDriver = false, ObjectStoreRoot = _root }).DefaultTimeout();
        var node = (await cluster.GetStatusAsync().DefaultTimeout()).Nodes.Single();
        var sealedFolder = Path.Combine(_root, $"terrarium-{Protocol.LocalFiles.PrivateDirectory.CurrentUserId}", node.NodeId, StoreLayout.Sealed);
        Assert.StartsWith($"shared memory at {Path.GetDirectoryName(sealedFolder)} (", node.ObjectStore, StringComparison.Ordinal);

        var value = await TakeAndDropAsync(cluster, sealedFolder);

        // The ref is gone, so the node released the value and its file; the driver's mapping stays.
        await TestWaits.UntilAsync(() =>
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            return Task.FromResult(Directory.GetFiles(sealedFolder).Length == 0);
        }, "the released value's file to go");
        Assert.True(TestTasks.IsPattern(value.Span, 8), "the mapped value reads the same after its file went");
    }

    [SkippableFact]
    public async Task LargeResult_PassedOnToAnotherTask_IsMappedByItsWorker_NotCopied()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { LogToDriver = false, ObjectStoreRoot = _root }).DefaultTimeout();
        var made = cluster.Submit(() => TestTasks.Pattern(6));

        var arrived = await cluster.Submit(() => TestTasks.HowArgumentArrived(made, 6)).DefaultTimeout();

        Assert.StartsWith(Path.Combine(_root, $"terrarium-{Protocol.LocalFiles.PrivateDirectory.CurrentUserId}"), arrived, StringComparison.Ordinal);
        Assert.Contains($"/{StoreLayout.Sealed}/", arrived, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task LargeValuePutByTheDriver_IsWrittenIntoTheStore_AndMappedByTheTask()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { LogToDriver = false, ObjectStoreRoot = _root }).DefaultTimeout();
        var put = cluster.Put(TestTasks.Pattern(3));

        var arrived = await cluster.Submit(() => TestTasks.HowArgumentArrived(put, 3)).DefaultTimeout();

        Assert.StartsWith(Path.Combine(_root, $"terrarium-{Protocol.LocalFiles.PrivateDirectory.CurrentUserId}"), arrived, StringComparison.Ordinal);
        Assert.Contains($"/{StoreLayout.Sealed}/", arrived, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task AResultOver1GiB_LivesInTheStore_AndIsMappedByTheDriverAndByAnotherTask_WhileWithoutAStoreItIsRefusedSayingWhy()
    {
        const int Mebibytes = 1536;
        await using (var cluster = await Cluster.InitAsync(new ClusterOptions { LogToDriver = false, ObjectStoreRoot = _root }).DefaultTimeout())
        {
            var made = cluster.Submit(() => TestTasks.Pattern(Mebibytes));

            var arrived = await cluster.Submit(() => TestTasks.HowArgumentArrived(made, Mebibytes)).GetAsync().WaitAsync(TimeSpan.FromMinutes(5));
            var value = await made.GetAsync().WaitAsync(TimeSpan.FromMinutes(5));

            Assert.Contains($"/{StoreLayout.Sealed}/", arrived, StringComparison.Ordinal);
            Assert.True(MemoryMarshal.TryGetMemoryManager<byte, MappedValue>(value, out var mapped), "the driver maps the value");
            Assert.Equal(arrived, mapped.Path);
            Assert.True(TestTasks.IsPattern(value.Span, Mebibytes));
        }

        await using (var withoutStore = await Cluster.InitAsync(new ClusterOptions { LogToDriver = false, ObjectStoreRoot = null }).DefaultTimeout())
        {
            var error = await Assert.ThrowsAsync<TaskFailedException>(() => withoutStore.Submit(() => TestTasks.Pattern(Mebibytes)).GetAsync().WaitAsync(TimeSpan.FromMinutes(5)));
            Assert.Contains($"is {Mebibytes} MiB serialized, over the 1024 MiB a value may be", error.Message, StringComparison.Ordinal);
        }
    }

    [SkippableFact]
    public async Task WithoutAStore_LargeValuesTravelThroughTheNode_Whole()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { LogToDriver = false, ObjectStoreRoot = null }).DefaultTimeout();
        var made = cluster.Submit(() => TestTasks.Pattern(3));
        var put = cluster.Put(TestTasks.Pattern(2));

        Assert.Equal("the node's own memory (no shared-memory store configured)", (await cluster.GetStatusAsync().DefaultTimeout()).Nodes.Single().ObjectStore);
        Assert.Equal("copied", await cluster.Submit(() => TestTasks.HowArgumentArrived(made, 3)).DefaultTimeout());
        Assert.Equal("copied", await cluster.Submit(() => TestTasks.HowArgumentArrived(put, 2)).DefaultTimeout());
        var value = await made.DefaultTimeout();
        Assert.True(TestTasks.IsPattern(value.Span, 3));
        Assert.False(MemoryMarshal.TryGetMemoryManager<byte, MappedValue>(value, out _));
    }

    [SkippableFact]
    public async Task StoreOverItsCapacity_SpillsTheLeastRecentlyUsedToDisk_AndEveryValueStaysReadable()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { LogToDriver = false, ObjectStoreRoot = _root, ObjectStoreMemory = 5 << 20 }).DefaultTimeout();
        var made = new List<ObjectRef<ReadOnlyMemory<byte>>>();
        for (var i = 0; i < 4; i++)
        {
            made.Add(cluster.Submit(() => TestTasks.Pattern(2)));
            await cluster.WaitAsync([made[^1]], 1, TimeSpan.FromMinutes(2)).DefaultTimeout();
        }

        // 4 values of 2 MiB in a store of 5 MiB: the two oldest go to disk.
        await TestWaits.UntilAsync(async () => (await cluster.GetStatusAsync()).Nodes.Single().ObjectStore.EndsWith(" 2 values spilled to disk", StringComparison.Ordinal),
            "two values to spill");
        foreach (var value in made)
        {
            Assert.True(TestTasks.IsPattern((await value.DefaultTimeout()).Span, 2));
        }

        // A task that takes a spilled value maps it from disk.
        var arrived = await cluster.Submit(() => TestTasks.HowArgumentArrived(made[0], 2)).DefaultTimeout();
        Assert.Contains("/spilled/", arrived, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task StoreFolderPlantedAsALink_IsRefused_AndLargeValuesStayInTheNodesMemory_Whole()
    {
        var elsewhere = Directory.CreateDirectory(Path.Combine(_root, "elsewhere")).FullName;
        File.CreateSymbolicLink(Path.Combine(_root, $"terrarium-{Protocol.LocalFiles.PrivateDirectory.CurrentUserId}"), elsewhere);
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { LogToDriver = false, ObjectStoreRoot = _root }).DefaultTimeout();

        var location = (await cluster.GetStatusAsync().DefaultTimeout()).Nodes.Single().ObjectStore;
        var value = await cluster.Submit(() => TestTasks.Pattern(4)).DefaultTimeout();

        Assert.StartsWith("the node's own memory: refusing to use", location, StringComparison.Ordinal);
        Assert.True(TestTasks.IsPattern(value.Span, 4));
        Assert.False(MemoryMarshal.TryGetMemoryManager<byte, MappedValue>(value, out _), "nothing was mapped");
        Assert.Empty(Directory.EnumerateFileSystemEntries(elsewhere));
    }

    private static async Task<ReadOnlyMemory<byte>> TakeAndDropAsync(Cluster cluster, string sealedFolder)
    {
        var made = cluster.Submit(() => TestTasks.Pattern(8));
        await cluster.WaitAsync([made], 1, TimeSpan.FromMinutes(2)).DefaultTimeout();
        var file = Assert.Single(Directory.GetFiles(sealedFolder));
        Assert.Equal((8 << 20) + 5, new FileInfo(file).Length);

        var value = await made.DefaultTimeout();

        Assert.True(TestTasks.IsPattern(value.Span, 8));
        Assert.True(MemoryMarshal.TryGetMemoryManager<byte, MappedValue>(value, out var mapped), "the driver's value is the mapping of the store's file");
        Assert.Equal(file, mapped.Path);
        return value;
    }
}
