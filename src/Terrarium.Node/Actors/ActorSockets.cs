using Terrarium.Protocol.LocalFiles;

namespace Terrarium.Node.Actors;

/// <summary>
/// Where actors' workers listen on a node that serves no TCP: one folder per worker under the
/// session's <c>actors</c> folder. Workers in containers see that folder read-only — they can
/// reach every actor — and only their own actor's folder writable.
/// </summary>
internal static class ActorSockets
{
    /// <summary>The folder of every actor's socket folder.</summary>
    public static string Root(NodeOptions options) => PrivateDirectory.Create(Path.Combine(options.SessionDirectory, "actors"));

    /// <summary>The folder of <paramref name="workerId"/>'s actor socket, made if missing.</summary>
    public static string FolderOf(NodeOptions options, string workerId) => PrivateDirectory.Create(Path.Combine(Root(options), workerId));

    /// <summary>The socket <paramref name="workerId"/>'s actor serves on.</summary>
    public static string PathOf(NodeOptions options, string workerId) => Path.Combine(FolderOf(options, workerId), "actor.sock");

    /// <summary>Removes what a worker's actor left (a crashed worker leaves its socket file).</summary>
    public static void Remove(NodeOptions options, string workerId)
    {
        try
        {
            Directory.Delete(Path.Combine(options.SessionDirectory, "actors", workerId), recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Gone already, or still held: the session folder goes with the node.
        }
    }
}
