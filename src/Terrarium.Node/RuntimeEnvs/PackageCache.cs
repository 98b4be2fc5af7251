using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Terrarium.Node.Membership;
using Terrarium.Node.Service;

namespace Terrarium.Node.RuntimeEnvs;

/// <summary>
/// Packages unpacked on this node, once each: <c>pkg://</c> content from the head's store, and
/// <c>file://</c> or <c>https://</c> zips cached by URI (mutable URLs are the user's risk unless
/// pinned with <c>#sha256=</c>). Concurrent requests for one package wait for the same download.
/// </summary>
internal sealed class PackageCache(NodeOptions options, HeadLink head, ILogger<PackageCache> logger)
{
    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromMinutes(10) };
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _unpacked = new(StringComparer.Ordinal);

    private string Root => Path.Combine(options.CacheDirectory, "packages");

    /// <summary>The directory the package at <paramref name="uri"/> is unpacked in.</summary>
    /// <exception cref="PackageFetchException">It could not be fetched, verified or unpacked.</exception>
    public async Task<string> GetDirectoryAsync(string uri, CancellationToken ct)
    {
        var lazy = _unpacked.GetOrAdd(uri, u => new Lazy<Task<string>>(() => UnpackAsync(u, ct)));
        if (lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully && !Directory.Exists(lazy.Value.Result))
        {
            // The cache's collector deleted it since: unpack it again.
            _unpacked.TryRemove(new KeyValuePair<string, Lazy<Task<string>>>(uri, lazy));
            lazy = _unpacked.GetOrAdd(uri, u => new Lazy<Task<string>>(() => UnpackAsync(u, ct)));
        }

        try
        {
            return await lazy.Value.ConfigureAwait(false);
        }
        catch
        {
            _unpacked.TryRemove(new KeyValuePair<string, Lazy<Task<string>>>(uri, lazy));
            throw;
        }
    }

    private async Task<string> UnpackAsync(string uri, CancellationToken ct)
    {
        var (name, expectedHash) = Identify(uri);
        var target = Path.Combine(Root, name);
        if (Directory.Exists(target))
        {
            return target;
        }

        Directory.CreateDirectory(Root);
        var download = Path.Combine(Root, $"{name}.{Guid.NewGuid():N}.zip");
        var scratch = Path.Combine(Root, $"{name}.{Guid.NewGuid():N}.tmp");
        try
        {
            NodeLog.FetchingPackage(logger, uri);
            SetupLog.Current?.Output($"downloading {uri}");
            await FetchAsync(uri, download, ct).ConfigureAwait(false);
            if (expectedHash is not null)
            {
                await using var stream = File.OpenRead(download);
                var actual = Convert.ToHexString(await SHA256.HashDataAsync(stream, ct).ConfigureAwait(false)).ToLowerInvariant();
                if (actual != expectedHash)
                {
                    throw new PackageFetchException($"{uri}: content hash is {actual}, expected {expectedHash}");
                }
            }

            SetupLog.Current?.Output($"unpacking {new FileInfo(download).Length / 1024.0 / 1024.0:0.0} MiB");
            try
            {
                SafeZip.Extract(download, scratch, options.MaxUnpackedBytes, options.MaxUnpackedEntries);
            }
            catch (InvalidDataException e)
            {
                throw new PackageFetchException($"{uri}: cannot unpack: {e.Message}", e);
            }

            try
            {
                // Another node process sharing this cache may have won the race; its copy is as good.
                Directory.Move(scratch, target);
            }
            catch (IOException) when (Directory.Exists(target))
            {
            }

            return target;
        }
        finally
        {
            File.Delete(download);
            if (Directory.Exists(scratch))
            {
                Directory.Delete(scratch, recursive: true);
            }
        }
    }

    private async Task FetchAsync(string uri, string destination, CancellationToken ct)
    {
        if (uri.StartsWith("pkg://", StringComparison.Ordinal))
        {
            await head.DownloadPackageAsync(uri["pkg://".Length..], destination, ct).ConfigureAwait(false);
            return;
        }

        var parsed = new Uri(uri);
        try
        {
            if (parsed.IsFile)
            {
                File.Copy(parsed.LocalPath, destination);
                return;
            }

            using var response = await s_http.GetAsync(parsed, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
            response.EnsureSuccessStatusCode();
            await using var file = File.Create(destination);
            await response.Content.CopyToAsync(file, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or HttpRequestException or UnauthorizedAccessException)
        {
            throw new PackageFetchException($"{uri}: cannot fetch: {e.Message}", e);
        }
    }

    /// <summary>The cache directory name for a URI, and the hash its content must have (if known).</summary>
    private static (string Name, string? ExpectedHash) Identify(string uri)
    {
        if (uri.StartsWith("pkg://", StringComparison.Ordinal))
        {
            var hash = uri["pkg://".Length..];
            return (hash, hash);
        }

        var fragment = uri.IndexOf("#sha256=", StringComparison.Ordinal);
        var pinned = fragment >= 0 ? uri[(fragment + "#sha256=".Length)..] : null;
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(uri))).ToLowerInvariant();
        return ("uri-" + key, pinned);
    }
}

/// <summary>A package could not be fetched, verified or unpacked.</summary>
internal sealed class PackageFetchException(string message, Exception? inner = null) : Exception(message, inner);
