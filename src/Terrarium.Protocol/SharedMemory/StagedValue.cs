using Google.Protobuf;
using Terrarium.Protocol.LocalFiles;

namespace Terrarium.Protocol.SharedMemory;

/// <summary>
/// Writes a value into a shared-memory store's staging folder, for the node to take over. The
/// whole length is reserved before the first byte is written, so a full store is an
/// <see cref="IOException"/> here, never a SIGBUS in a process that maps the file later.
/// </summary>
public static class StagedValue
{
    /// <summary>Writes <paramref name="value"/> to a new file of <paramref name="stagingFolder"/>.</summary>
    /// <returns>What the node is told: the file's name and the value's length.</returns>
    /// <exception cref="IOException">The store has no room for it, or the folder cannot be written.</exception>
    public static StoredValue Write(string stagingFolder, ByteString value)
    {
        var name = Guid.NewGuid().ToString("N");
        var path = Path.Combine(stagingFolder, name);
        try
        {
            // CreateNew is O_EXCL: it never follows a link planted at the name.
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                PreallocationSize = value.Length,
            };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = PrivateDirectory.OwnerReadWrite;
            }

            using var file = new FileStream(path, options);
            RandomAccess.Write(file.SafeFileHandle, value.Span, 0);
        }
        catch (IOException)
        {
            File.Delete(path);
            throw;
        }

        return new StoredValue { FileName = name, Length = value.Length };
    }
}
