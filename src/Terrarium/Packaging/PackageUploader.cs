using System.Collections.Concurrent;
using System.Diagnostics;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Terrarium.Logging;
using Terrarium.Protocol;

namespace Terrarium.Packaging;

/// <summary>
/// Uploads packages to the head's store in chunks, skipping those it already has; one upload at a
/// time per package. Each upload and question names the job, so that the store keeps the package
/// while the job runs.
/// </summary>
internal sealed class PackageUploader(Protocol.Head.HeadClient head, string jobId, ILogger logger)
{
    private const int ChunkSize = 1 << 20;
    private const long ProgressThreshold = 16L << 20;

    // The head keeps what a running job uses, so a hash it had once for this job it still has: no need to ask again.
    private readonly ConcurrentDictionary<string, bool> _onHead = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<bool>>> _uploading = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<Task> _started = [];

    /// <summary>
    /// Starts sending the package and returns at once: <c>Submit</c> does not wait for it, and a node
    /// that needs the package waits until the head has it. A failed upload is logged, and the next
    /// submission that names the files tries again.
    /// </summary>
    public void StartUpload(PackageFile package)
    {
        var upload = EnsureUploadedAsync(package, CancellationToken.None);
        _started.Add(upload);
        _ = upload.ContinueWith(
            failed => ClientLog.UploadFailed(logger, package.Uri, failed.Exception!.GetBaseException().Message),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Completes once every upload started so far has: what <c>terrarium job submit</c> waits for before it submits.</summary>
    /// <exception cref="Grpc.Core.RpcException">An upload failed.</exception>
    public Task UploadsDoneAsync() => Task.WhenAll(_started);

    /// <returns>True when the package was sent, false when the head had it already.</returns>
    public Task<bool> EnsureUploadedAsync(PackageFile package, CancellationToken ct)
    {
        if (_onHead.ContainsKey(package.Hash))
        {
            return Task.FromResult(false);
        }

        var upload = _uploading.GetOrAdd(package.Hash, _ => new Lazy<Task<bool>>(() => UploadAsync(package, ct)));
        _ = upload.Value.ContinueWith(_ => _uploading.TryRemove(new KeyValuePair<string, Lazy<Task<bool>>>(package.Hash, upload)),
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return upload.Value;
    }

    private async Task<bool> UploadAsync(PackageFile package, CancellationToken ct)
    {
        if ((await head.HasPackageAsync(new HasPackageRequest { Hash = package.Hash, JobId = jobId }, cancellationToken: ct).ConfigureAwait(false)).Present)
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
                chunk.JobId = jobId;
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
