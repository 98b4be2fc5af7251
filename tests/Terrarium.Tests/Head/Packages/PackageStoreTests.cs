using System.Security.Cryptography;
using Grpc.Core;
using Terrarium.Head;
using Terrarium.Head.Packages;
using Terrarium.Head.State;
using Terrarium.Protocol.Transport;
using static Terrarium.Tests.Head.Packages.PackageStreams;

namespace Terrarium.Tests.Head.Packages;

/// <summary>
/// The head's content-addressed store on a real folder: an archive is kept only when its bytes hash
/// to its name, is never overwritten, is private, and streams back as it came.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PackageStoreTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("terrarium-store-");
    private readonly PackageStore _store;

    public PackageStoreTests()
    {
        var options = new HeadOptions { StorageDirectory = _root.FullName, MaxPackageBytes = 4 << 20 };
        _store = new PackageStore(options, new HeadState(options), new MemoryOnly());
    }

    private string Folder => Path.Combine(_root.FullName, "packages");

    public void Dispose() => _root.Delete(recursive: true);

    [Fact]
    public async Task Upload_InChunks_IsStoredPrivately_AndSentBackWhole()
    {
        var bytes = RandomNumberGenerator.GetBytes((2 << 20) + 123);
        var hash = Hash(bytes);

        Assert.True(await _store.ReceiveAsync(Chunks(hash, bytes.Length, bytes, PackageStore.ChunkSize), CancellationToken.None));

        Assert.True(await _store.HasAsync(hash, ""));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Folder));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(Folder, hash + ".zip")));
        var sent = new ChunkWriter();
        await _store.SendAsync(hash, sent, CancellationToken.None);
        Assert.Equal(hash, sent.Chunks[0].Hash);
        Assert.Equal(bytes.Length, sent.Chunks[0].TotalSize);
        Assert.All(sent.Chunks, c => Assert.True(c.Data.Length <= PackageStore.ChunkSize));
        Assert.Equal(bytes, sent.Chunks.SelectMany(c => c.Data.ToByteArray()).ToArray());
        var listed = Assert.Single(_store.List().Packages);
        Assert.Equal((hash, bytes.Length, 1), (listed.Hash, listed.Size, listed.Uploads));
    }

    [Fact]
    public async Task SameUploadTwice_IsStoredOnce_AndTheSecondSaysSo()
    {
        var bytes = "the same archive"u8.ToArray();
        var hash = Hash(bytes);

        Assert.True(await _store.ReceiveAsync(Chunks(hash, bytes.Length, bytes), CancellationToken.None));
        Assert.False(await _store.ReceiveAsync(Chunks(hash, bytes.Length, bytes), CancellationToken.None));

        Assert.Equal([hash + ".zip"], Directory.GetFiles(Folder).Select(Path.GetFileName));
    }

    [Fact]
    public async Task EmptyArchive_IsStored()
    {
        var hash = Hash([]);

        Assert.True(await _store.ReceiveAsync(Chunks(hash, 0, []), CancellationToken.None));

        Assert.True(await _store.HasAsync(hash, ""));
    }

    public static TheoryData<string, long, byte[], string> BadUploads => new()
    {
        { "0000000000000000000000000000000000000000000000000000000000000000", 5, "hello"u8.ToArray(), "package upload does not match" },
        { Hash("hello"u8.ToArray()), 4, "hello"u8.ToArray(), "sent more than the 4 bytes it announced" },
        { Hash("hello"u8.ToArray()), 6, "hello"u8.ToArray(), "package upload does not match" },
        { "ABCDEF", 5, "hello"u8.ToArray(), "'ABCDEF' is not a lowercase hex SHA-256" },
        { "../../etc/passwd", 5, "hello"u8.ToArray(), "is not a lowercase hex SHA-256" },
        { Hash("hello"u8.ToArray()), 5L << 20, "hello"u8.ToArray(), "the store accepts at most 4194304" },
    };

    [Theory]
    [MemberData(nameof(BadUploads))]
    public async Task BadUpload_IsRefusedNamingWhy_AndLeavesNothingBehind(string hash, long announced, byte[] bytes, string expected)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => _store.ReceiveAsync(Chunks(hash, announced, bytes), CancellationToken.None));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains(expected, error.Status.Detail, StringComparison.Ordinal);
        Assert.False(await _store.HasAsync(hash, ""));
        Assert.True(!Directory.Exists(Folder) || Directory.GetFiles(Folder).Length == 0, "no archive and no partial file is left");
    }

    [Fact]
    public async Task UploadWithoutAChunk_IsRefused()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => _store.ReceiveAsync(new ChunkReader([]), CancellationToken.None));

        Assert.Contains("at least one chunk", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_OfAnArchiveStillArriving_IsUnavailableSayingSo_ThenServedOnceItHasArrived()
    {
        var bytes = "an archive sent in two chunks"u8.ToArray();
        var hash = Hash(bytes);
        var secondChunk = new TaskCompletionSource();
        var receiving = _store.ReceiveAsync(new ChunkReader(Chunks(hash, bytes.Length, bytes, 10).Chunks, secondChunk.Task), CancellationToken.None);

        var arriving = await Assert.ThrowsAsync<RpcException>(() => _store.SendAsync(hash, new ChunkWriter(), CancellationToken.None));
        secondChunk.SetResult();
        Assert.True(await receiving);
        var sent = new ChunkWriter();
        await _store.SendAsync(hash, sent, CancellationToken.None);

        Assert.Equal(StatusCode.Unavailable, arriving.StatusCode);
        Assert.Equal("1", arriving.Trailers.GetValue(UploadHeaders.PackageUploading));
        Assert.Equal(bytes, sent.Chunks.SelectMany(c => c.Data.ToByteArray()).ToArray());
    }

    [Fact]
    public async Task Send_OfAnArchiveNotStored_IsNotFound()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => _store.SendAsync(Hash("never uploaded"u8.ToArray()), new ChunkWriter(), CancellationToken.None));

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
    }
}
