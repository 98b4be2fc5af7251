using System.Buffers;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Microsoft.Win32.SafeHandles;
using Mono.Unix.Native;
using Terrarium.Protocol.LocalFiles;

namespace Terrarium.Protocol.SharedMemory;

/// <summary>
/// A value of a node's shared-memory store, mapped read-only into this process: its bytes are the
/// file's pages, shared by every process that maps them, never copied. The mapping lives as long
/// as memory handed out from it is reachable — the garbage collector unmaps it — so a value whose
/// file is removed meanwhile (its owner released it) stays readable to whoever still holds it.
/// </summary>
public sealed unsafe class MappedValue : MemoryManager<byte>, IDisposable
{
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _pointer;
    private readonly int _length;
    private volatile string _path;

    private MappedValue(string path, MemoryMappedViewAccessor view, int length)
    {
        _path = path;
        _view = view;
        _length = length;
        byte* start = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
        // Mapped from offset 0: the view starts on a page, as RemapTo needs.
        _pointer = start + view.PointerOffset;
        // The pages are not on the managed heap; this lets the collector weigh what it would free.
        GC.AddMemoryPressure(length);
    }

    // CA2015 warns that a Span taken from this memory may outlive every reference to it. Terrarium
    // reads a mapped value only through the ByteString that holds it, from objects that keep that
    // ByteString (the node's object table, a client's ObjectRef, a worker's arguments) for longer.
#pragma warning disable CA2015
    ~MappedValue() => Dispose(false);
#pragma warning restore CA2015

    /// <summary>The file the value is mapped from now.</summary>
    public string Path => _path;

    /// <summary>
    /// Maps the store file at <paramref name="path"/>: a regular file (not a link) of this user,
    /// of exactly <paramref name="length"/> bytes.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="length">Its length, as announced by whoever wrote it.</param>
    /// <param name="seal">Makes the file read-only first (through the descriptor, so never through a link): the store takes it over.</param>
    /// <returns>The value, its memory the mapping.</returns>
    /// <exception cref="IOException">The file cannot be opened, or is not such a file.</exception>
    public static ByteString Map(string path, long length, bool seal = false)
    {
        if (length is <= 0 or > int.MaxValue)
        {
            throw new IOException($"a stored value of {length} bytes cannot be mapped (1 to {int.MaxValue} bytes)");
        }

        using var handle = OpenChecked(path, length, seal);
        // The view keeps the pages mapped once the file and its descriptor are closed.
        using var file = MemoryMappedFile.CreateFromFile(handle, null, length, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
        var view = file.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
        return UnsafeByteOperations.UnsafeWrap(new MappedValue(path, view, (int)length).Memory);
    }

    /// <summary>The mapping a value's memory is, or null when it lives on the managed heap.</summary>
    public static MappedValue? Of(ByteString value) =>
        MemoryMarshal.TryGetMemoryManager<byte, MappedValue>(value.Memory, out var mapped) ? mapped : null;

    /// <summary>
    /// Maps <paramref name="path"/>, a copy of the value (checked and sealed as <see cref="Map"/>
    /// does), over this mapping, in place: whoever reads the value goes on reading the same bytes,
    /// now from that file, and this process lets go of the old file's pages.
    /// </summary>
    /// <exception cref="IOException">The copy is not such a file, or cannot be mapped there.</exception>
    public void RemapTo(string path)
    {
        using var handle = OpenChecked(path, _length, seal: true);
        var at = Syscall.mmap((IntPtr)_pointer, (ulong)_length, MmapProts.PROT_READ, MmapFlags.MAP_SHARED | MmapFlags.MAP_FIXED,
            (int)handle.DangerousGetHandle(), 0);
        if (at != (IntPtr)_pointer)
        {
            throw new IOException($"cannot map '{path}' in place of '{_path}': {Stdlib.GetLastError()}");
        }

        _path = path;
    }

    public override Span<byte> GetSpan() => new(_pointer, _length);

    // The manager itself is what keeps the mapping alive while it is pinned.
    public override MemoryHandle Pin(int elementIndex = 0) =>
        (uint)elementIndex <= (uint)_length ? new MemoryHandle(_pointer + elementIndex, default, this) : throw new ArgumentOutOfRangeException(nameof(elementIndex));

    public override void Unpin()
    {
        // Mapped memory never moves.
    }

    /// <summary>Does nothing: only the collector unmaps, once no memory handed out can be in use.</summary>
    void IDisposable.Dispose()
    {
    }

    protected override void Dispose(bool disposing)
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        GC.RemoveMemoryPressure(_length);
    }

    /// <summary>Opens a regular file of this user (never through a link) of exactly <paramref name="length"/> bytes.</summary>
    private static SafeFileHandle OpenChecked(string path, long length, bool seal)
    {
        var descriptor = Syscall.open(path, OpenFlags.O_RDONLY | OpenFlags.O_NOFOLLOW | OpenFlags.O_CLOEXEC);
        if (descriptor < 0)
        {
            throw new IOException($"cannot open the stored value '{path}': {Stdlib.GetLastError()}");
        }

        var handle = new SafeFileHandle(descriptor, ownsHandle: true);
        try
        {
            if (Syscall.fstat(descriptor, out var stat) != 0)
            {
                throw new IOException($"cannot examine the stored value '{path}': {Stdlib.GetLastError()}");
            }

            if ((stat.st_mode & FilePermissions.S_IFMT) != FilePermissions.S_IFREG)
            {
                throw new IOException($"the stored value '{path}' is not a regular file");
            }

            if (stat.st_uid != PrivateDirectory.CurrentUserId)
            {
                throw new IOException($"the stored value '{path}' belongs to uid {stat.st_uid}, not to this user (uid {PrivateDirectory.CurrentUserId})");
            }

            if (stat.st_size != length)
            {
                throw new IOException($"the stored value '{path}' holds {stat.st_size} bytes, not the {length} announced");
            }

            if (seal && Syscall.fchmod(descriptor, FilePermissions.S_IRUSR) != 0)
            {
                throw new IOException($"cannot seal the stored value '{path}': {Stdlib.GetLastError()}");
            }

            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }
}
