using System.Diagnostics;
using Google.Protobuf;
using Terrarium.Protocol.SharedMemory;

namespace Terrarium.Tests.Protocol.SharedMemory;

/// <summary>
/// Writing a value into a store, on a real tmpfs of 1 MiB mounted for the test: the whole length is
/// reserved first, so a value that does not fit is an error for the writer, never a SIGBUS for a
/// reader of a file with holes, and nothing is left behind.
/// </summary>
public sealed class StagedValueTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("terrarium-small-tmpfs-").FullName;
    private bool _mounted;

    public void Dispose()
    {
        if (_mounted)
        {
            Run("umount", _folder);
        }

        Directory.Delete(_folder, recursive: true);
    }

    [SkippableFact]
    public void Write_OfMoreThanTheTmpfsHolds_FailsForTheWriter_AndLeavesNoFile()
    {
        Requirements.Root();
        Assert.Equal(0, Run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", _folder));
        _mounted = true;

        var error = Record.Exception(() => StagedValue.Write(_folder, ByteString.CopyFrom(new byte[2 << 20])));
        var fits = StagedValue.Write(_folder, ByteString.CopyFrom(new byte[256 << 10]));

        Assert.IsAssignableFrom<IOException>(error);
        Assert.Equal([fits.FileName], Directory.GetFiles(_folder).Select(Path.GetFileName));
        Assert.Equal(256 << 10, new FileInfo(Path.Combine(_folder, fits.FileName)).Length);
    }

    private static int Run(string command, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(command, arguments) { RedirectStandardError = true })!;
        process.WaitForExit();
        return process.ExitCode;
    }
}
