namespace Terrarium.Protocol.SharedMemory;

/// <summary>
/// How a node's folder in a shared-memory store is laid out, for the node and for the processes
/// that map its values: <c>staging/</c> (workers write), <c>sealed/</c> (the node's read-only
/// values), and <c>owner.lock</c>, which the node holds locked while it runs.
/// </summary>
public static class StoreLayout
{
    public const string Staging = "staging";
    public const string Sealed = "sealed";
    public const string OwnerLock = "owner.lock";

    /// <summary>
    /// Whether the node that owns <paramref name="nodeFolder"/> still runs: a node that died keeps no values, even when its files outlive it until the next node
    /// of the machine starts and removes them.
    /// </summary>
    public static bool OwnerIsAlive(string nodeFolder)
    {
        try
        {
            // FileShare.None is an exclusive flock: it is refused while the node holds its own.
            using (new FileStream(Path.Combine(nodeFolder, OwnerLock), FileMode.Open, FileAccess.Read, FileShare.None))
            {
                return false;
            }
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The folder of the node a sealed value's file belongs to.</summary>
    public static string NodeFolderOf(string sealedValue) => Path.GetDirectoryName(Path.GetDirectoryName(sealedValue)!)!;
}
