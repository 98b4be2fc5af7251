using System.Collections.Concurrent;
using System.Diagnostics;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Terrarium.Logging;
using Terrarium.Protocol;

namespace Terrarium.Packaging;

/// <summary>Uploads packages to the head's store in chunks, skipping those it already has.</summary>
internal sealed class PackageUploader(Protocol.Head.HeadClient head, ILogger logger)
{
    private const int ChunkSize = 1 << 20;
    private const long ProgressThreshold = 16L << 20;

    // The head's store only grows, so a hash it had once it still has: no need to ask again.
    private readonly ConcurrentDictionary<string, bool> _onHead = new(StringComparer.Ordinal);

    /// <returns>True when the package was sent, false when the head had it already.</returns>
    public async Task<bool> EnsureUploadedAsync(PackageFile package, CancellationToken ct)
    {
        if (_onHead.ContainsKey(package.Hash))
        {
            return false;
        }

        if ((await head.HasPackageAsync(new HasPackageRequest { Hash = package.Hash }, cancellationToken: ct).ConfigureAwait(false)).Present)
        {
            _onHead[package.Hash] = true;
            return false;
        }

        using var call = head.UploadPackage(cancellationToken: ct);
        await using var file = File.OpenRead(package.Path);
        var buffer = new byte[ChunkSize];
        var sent = 0L;
        var first = true;
        var progress = Stopwatch.StartNew();
        int read;
        while ((read = await file.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0 || first)
        {
            var chunk = new PackageChunk { Data = ByteString.CopyFrom(buffer, 0, read) };
            if (first)
            {
                chunk.Hash = package.Hash;
                chunk.TotalSize = package.Size;
                first = false;
            }

            await call.RequestStream.WriteAsync(chunk, ct).ConfigureAwait(false);
            sent += read;
            if (package.Size > ProgressThreshold && progress.Elapsed > TimeSpan.FromSeconds(1))
            {
                ClientLog.UploadProgress(logger, package.Uri[..18], sent * 100 / package.Size, sent >> 20, package.Size >> 20);
                progress.Restart();
            }

            if (read == 0)
            {
                break;
            }
        }

        await call.RequestStream.CompleteAsync().ConfigureAwait(false);
        await call.ResponseAsync.ConfigureAwait(false);
        _onHead[package.Hash] = true;
        return true;
    }
}
