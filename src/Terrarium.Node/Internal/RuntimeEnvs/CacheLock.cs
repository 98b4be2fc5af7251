namespace Terrarium.Node.Internal.RuntimeEnvs;

/// <summary>
/// A lock on a file in the node's cache, held while one process builds what the file names. On Unix
/// .NET takes an advisory <c>flock</c> for <see cref="FileShare.None"/>, which the kernel releases
/// when its holder dies: a crashed build never blocks the next one.
/// </summary>
internal static class CacheLock
{
    public static async Task<IDisposable> TakeAsync(string path, CancellationToken ct)
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
}
