using System.Collections.Concurrent;
using System.Security.Cryptography;
using Grpc.Core;
using Terrarium.Head.State;
using Terrarium.Protocol;
using Terrarium.Protocol.LocalFiles;
using Terrarium.Protocol.Transport;

namespace Terrarium.Head.Packages;

/// <summary>
/// Content-addressed archives on the head's disk: stored only when their bytes hash to the name they
/// were uploaded under, never overwritten, streamed to nodes in chunks. They hold users' code and
/// data: the store is a private folder (0700, this user's, checked as the runtime folders are) and
/// each archive is 0600. What jobs use (while they run, or their detached actors live), and what was used lately, stays; the rest is
/// collected when the store outgrows its limit (<c>PackageStore.Users.cs</c>).
/// </summary>
internal sealed partial class PackageStore(HeadOptions options, HeadState jobs, IHeadStore store)
{
    public const int ChunkSize = 1 << 20;

    private readonly ConcurrentDictionary<string, int> _uploads = new(StringComparer.Ordinal);

    // Uploads under way, by hash: a driver does not wait for its upload before it submits, so a node
    // may ask for a package that is still arriving.
    private readonly ConcurrentDictionary<string, int> _arriving = new(StringComparer.Ordinal);

    private string Directory => Path.Combine(options.StorageDirectory, "packages");

    private static FileStreamOptions PrivateFile => OperatingSystem.IsWindows()
        ? new() { Mode = FileMode.CreateNew, Access = FileAccess.Write }
        : new() { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = PrivateDirectory.OwnerReadWrite };

    /// <summary>Whether the store has the package; if so, it counts as used now, and by <paramref name="jobId"/> if that job runs.</summary>
    public async Task<bool> HasAsync(string hash, string jobId)
    {
        if (!IsValidHash(hash))
        {
            return false;
        }

        bool present, newUse = false;
        lock (_lock)
        {
            present = File.Exists(PathOf(hash));
            if (present)
            {
                newUse = MarkUsed(hash, jobId);
            }
        }

        await SaveUseAsync(hash, jobId, newUse).ConfigureAwait(false);
        return present;
    }

    /// <returns>True when this upload stored the package, false when the store had it already.</returns>
    public async Task<bool> ReceiveAsync(IAsyncStreamReader<PackageChunk> chunks, CancellationToken ct)
    {
        if (!await chunks.MoveNext(ct).ConfigureAwait(false))
        {
            throw Invalid("an upload needs at least one chunk naming the package's hash and size");
        }

        var first = chunks.Current;
        var hash = first.Hash;
        if (!IsValidHash(hash))
        {
            throw Invalid($"'{hash}' is not a lowercase hex SHA-256");
        }

        if (first.TotalSize < 0 || first.TotalSize > options.MaxPackageBytes)
        {
            throw Invalid($"package {hash} is {first.TotalSize} bytes; the store accepts at most {options.MaxPackageBytes}");
        }

        PrivateDirectory.Create(Directory);
        var temp = Path.Combine(Directory, $"{hash}.{Guid.NewGuid():N}.part");
        _arriving.AddOrUpdate(hash, 1, (_, n) => n + 1);
        try
        {
            long received = 0;
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            await using (var file = new FileStream(temp, PrivateFile))
            {
                var chunk = first;
                while (true)
                {
                    received += chunk.Data.Length;
                    if (received > first.TotalSize)
                    {
                        throw Invalid($"package {hash} sent more than the {first.TotalSize} bytes it announced");
                    }

                    sha.AppendData(chunk.Data.Span);
                    await file.WriteAsync(chunk.Data.Memory, ct).ConfigureAwait(false);
                    if (!await chunks.MoveNext(ct).ConfigureAwait(false))
                    {
                        break;
                    }

                    chunk = chunks.Current;
                }
            }

            var actual = Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
            if (received != first.TotalSize || actual != hash)
            {
                throw Invalid($"package upload does not match: announced {hash} ({first.TotalSize} bytes), received {actual} ({received} bytes)");
            }

            bool stored, newUse;
            lock (_lock)
            {
                stored = !File.Exists(PathOf(hash));
                if (stored)
                {
                    File.Move(temp, PathOf(hash), overwrite: false);
                    _uploads.AddOrUpdate(hash, 1, (_, n) => n + 1);
                }

                newUse = MarkUsed(hash, first.JobId);
            }

            await SaveUseAsync(hash, first.JobId, newUse).ConfigureAwait(false);
            if (stored)
            {
                CollectOverLimit();
            }

            return stored;
        }
        finally
        {
            File.Delete(temp);
            if (_arriving.AddOrUpdate(hash, 0, (_, n) => n - 1) <= 0)
            {
                _arriving.TryRemove(new KeyValuePair<string, int>(hash, 0));
            }
        }
    }

    public async Task SendAsync(string hash, IServerStreamWriter<PackageChunk> writer, CancellationToken ct)
    {
        FileStream? opened = null;
        if (IsValidHash(hash))
        {
            lock (_lock)
            {
                // Opened under the lock, so that a collection cannot delete it in between; once
                // open, the file reads on even if one does afterwards.
                if (File.Exists(PathOf(hash)))
                {
                    MarkUsed(hash, "");
                    opened = File.OpenRead(PathOf(hash));
                }
            }
        }

        if (opened is null)
        {
            throw _arriving.ContainsKey(hash)
                ? new RpcException(new Status(StatusCode.Unavailable, $"package {hash} is still being uploaded to the head's store"), new Metadata { { UploadHeaders.PackageUploading, "1" } })
                : new RpcException(new Status(StatusCode.NotFound, $"package {hash} is not in the head's store"));
        }

        await using var file = opened;
        var buffer = new byte[ChunkSize];
        var first = true;
        int read;
        while ((read = await file.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0 || first)
        {
            var chunk = new PackageChunk { Data = Google.Protobuf.ByteString.CopyFrom(buffer, 0, read) };
            if (first)
            {
                chunk.Hash = hash;
                chunk.TotalSize = file.Length;
                first = false;
            }

            await writer.WriteAsync(chunk, ct).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }
        }
    }

    private string PathOf(string hash) => Path.Combine(Directory, hash + ".zip");

    private static bool IsValidHash(string hash) => hash.Length == 64 && hash.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));
}
