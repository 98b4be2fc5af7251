using Google.Protobuf;
using Terrarium.Protocol.LocalFiles;
using Terrarium.Protocol.Transport;

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
        var (name, path) = NewName(stagingFolder);
        try
        {
            using var file = Create(path, value.Length);
            RandomAccess.Write(file.SafeFileHandle, value.Span, 0);
        }
        catch (IOException)
        {
            File.Delete(path);
            throw;
        }

        return new StoredValue { FileName = name, Length = value.Length };
    }

    /// <summary>
    /// Receives a value sent in pieces (<see cref="ObjectChunks.WriteAsync"/>) straight into a new
    /// file of <paramref name="stagingFolder"/>, its whole length reserved first.
    /// </summary>
    /// <exception cref="IOException">The store has no room for it, or the folder cannot be written.</exception>
    /// <exception cref="InvalidDataException">The pieces do not add up to the length the first one announced.</exception>
    public static async Task<StoredValue> ReceiveAsync(string stagingFolder, Grpc.Core.IAsyncStreamReader<ObjectChunk> stream, CancellationToken ct)
    {
        if (!await stream.MoveNext(ct).ConfigureAwait(false))
        {
            throw new InvalidDataException("the object's stream ended before its first piece");
        }

        var total = stream.Current.TotalLength;
        if (total <= 0 || total > MessageLimits.MaxValueBytes)
        {
            throw new InvalidDataException($"the object's announced length, {total} bytes, is not between 1 and {MessageLimits.MaxValueBytes}");
        }

        var (name, path) = NewName(stagingFolder);
        try
        {
            using var file = Create(path, total);
            var filled = 0L;
            do
            {
                var data = stream.Current.Data.Memory;
                if (data.Length > total - filled)
                {
                    throw new InvalidDataException($"the object's pieces exceed its announced length of {total} bytes");
                }

                await RandomAccess.WriteAsync(file.SafeFileHandle, data, filled, ct).ConfigureAwait(false);
                filled += data.Length;
            }
            while (await stream.MoveNext(ct).ConfigureAwait(false));

            return filled == total
                ? new StoredValue { FileName = name, Length = total }
                : throw new InvalidDataException($"the object's stream ended after {filled} of its {total} bytes");
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    private static (string Name, string Path) NewName(string stagingFolder)
    {
        var name = Guid.NewGuid().ToString("N");
        return (name, System.IO.Path.Combine(stagingFolder, name));
    }

    /// <summary>A new file of exactly <paramref name="length"/> reserved bytes, this user's alone.</summary>
    private static FileStream Create(string path, long length)
    {
        // CreateNew is O_EXCL: it never follows a link planted at the name.
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
            PreallocationSize = length,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = PrivateDirectory.OwnerReadWrite;
        }

        return new FileStream(path, options);
    }
}
