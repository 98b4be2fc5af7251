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
        using var file = Open(stagingFolder, value.Length);
        file.Write(value.Span);
        return file.Seal();
    }

    /// <summary>
    /// A new file of <paramref name="stagingFolder"/> with <paramref name="length"/> bytes reserved,
    /// to write a value into as it arrives (<see cref="ValueSink"/>). Disposed before
    /// <see cref="StagedFile.Seal"/>, the file is deleted.
    /// </summary>
    /// <exception cref="IOException">The store has no room for it, or the folder cannot be written.</exception>
    /// <exception cref="InvalidDataException">The length is not one a mapping can hold (1 byte to 2 GiB).</exception>
    public static StagedFile Open(string stagingFolder, long length)
    {
        if (length is <= 0 or > int.MaxValue)
        {
            throw new InvalidDataException($"a value of {length} bytes cannot be stored: a stored value is 1 byte to 2 GiB");
        }

        var (name, path) = NewName(stagingFolder);
        try
        {
            return new StagedFile(name, path, Create(path, length), length);
        }
        catch (IOException)
        {
            // No room: nothing of it may stay behind.
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

/// <summary>A value being written into a staging file; see <see cref="StagedValue.Open"/>.</summary>
public sealed class StagedFile : ValueSink
{
    private readonly string _name;
    private readonly string _path;
    private readonly FileStream _file;
    private bool _sealed;

    internal StagedFile(string name, string path, FileStream file, long length)
        : base(length)
    {
        _name = name;
        _path = path;
        _file = file;
    }

    /// <summary>Closes the whole file: from now on it is the node's to take over.</summary>
    /// <returns>What the node is told: the file's name and the value's length.</returns>
    /// <exception cref="InvalidDataException">Bytes are missing.</exception>
    public StoredValue Seal()
    {
        EnsureWhole();
        _file.Dispose();
        _sealed = true;
        return new StoredValue { FileName = _name, Length = Length };
    }

    protected override void WriteAt(ReadOnlySpan<byte> piece, long offset) => RandomAccess.Write(_file.SafeFileHandle, piece, offset);

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_sealed)
        {
            _file.Dispose();
            File.Delete(_path);
        }
    }
}
