namespace Terrarium.Node.RuntimeEnvs;

/// <summary>
/// A folder of the node's cache built once (a venv, a conda environment): under a lock that nodes
/// sharing the cache respect, marked ready only once complete, and deleted when its build fails or
/// was interrupted — a half-built folder is never used.
/// </summary>
internal static class CacheFolder
{
    public const string ReadyMarker = ".terrarium-ready";

    /// <summary>Runs <paramref name="build"/> unless the folder is ready; the text it returns is kept in the marker (the build log).</summary>
    /// <exception cref="RuntimeEnvSetupFailure">The build failed (as <paramref name="build"/> threw), or could not write the folder.</exception>
    public static async Task EnsureBuiltAsync(string folder, string field, Func<CancellationToken, Task<string>> build, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(folder)!);
        using var buildLock = await LockAsync(folder + ".lock", ct).ConfigureAwait(false);
        var marker = Path.Combine(folder, ReadyMarker);
        if (File.Exists(marker))
        {
            return;
        }

        try
        {
            // What an earlier, interrupted build left.
            DeleteIfExists(folder);
            var log = await build(ct).ConfigureAwait(false);
            await File.WriteAllTextAsync(marker, log, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RuntimeEnvSetupFailure or OperationCanceledException or IOException or UnauthorizedAccessException)
        {
            DeleteIfExists(folder);
            throw e switch
            {
                RuntimeEnvSetupFailure failure => failure,
                OperationCanceledException => new RuntimeEnvSetupFailure(field, $"building {folder} took too long and was stopped", ""),
                _ => new RuntimeEnvSetupFailure(field, $"could not write {folder}: {e.Message}", e.ToString()),
            };
        }
    }

    /// <summary>
    /// On Unix .NET takes an advisory <c>flock</c> for <see cref="FileShare.None"/>, which the kernel
    /// releases when its holder dies: a crashed build never blocks the next one.
    /// </summary>
    private static async Task<IDisposable> LockAsync(string path, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The lock a build of a cache folder holds, if no build holds it now (else null).</summary>
    public static IDisposable? TryLock(string path)
    {
        try
        {
            return File.Exists(path) ? new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None) : Stream.Null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static void DeleteIfExists(string folder)
    {
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
