using System.IO.Compression;
using Terrarium.Node.RuntimeEnvs;

namespace Terrarium.Tests.Node.RuntimeEnvs;

public sealed class SafeZipTests : IDisposable
{
    private readonly DirectoryInfo _scratch = Directory.CreateTempSubdirectory("terrarium-unzip-");

    [Fact]
    public void Extract_EntryEscapingTheTarget_IsRefused()
    {
        var zip = Zip(("../escaped.txt", "x", 0));

        var error = Assert.Throws<InvalidDataException>(() => SafeZip.Extract(zip, Target(), 1 << 20, 100));

        Assert.Contains("outside the target", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_scratch.FullName, "escaped.txt")));
    }

    [Fact]
    public void Extract_SymlinkEntry_IsRefused()
    {
        var zip = Zip(("link", "/etc/passwd", 0xA1FF));

        var error = Assert.Throws<InvalidDataException>(() => SafeZip.Extract(zip, Target(), 1 << 20, 100));

        Assert.Contains("symlink", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Extract_OverTheSizeLimit_IsRefused()
    {
        var zip = Zip(("big.txt", new string('x', 5000), 0));

        Assert.Throws<InvalidDataException>(() => SafeZip.Extract(zip, Target(), 1000, 100));
    }

    [Fact]
    public void Extract_MoreEntriesThanTheLimit_IsRefusedBeforeAnyIsWritten()
    {
        var zip = Zip(Enumerable.Range(0, 11).Select(i => ($"f{i}.txt", "x", 0)).ToArray());

        var error = Assert.Throws<InvalidDataException>(() => SafeZip.Extract(zip, Target(), 1 << 20, 10));

        Assert.Contains("holds 11 files and folders, more than the 10 a node unpacks", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Target()));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Extract_ExecutableBit_IsKept()
    {
        var zip = Zip(("run.sh", "#!/bin/sh", 0x81ED));
        var target = Target();

        SafeZip.Extract(zip, target, 1 << 20, 100);

        Assert.True(File.GetUnixFileMode(Path.Combine(target, "run.sh")).HasFlag(UnixFileMode.UserExecute));
    }

    public void Dispose() => _scratch.Delete(recursive: true);

    private string Target() => Path.Combine(_scratch.FullName, "target");

    private string Zip(params (string Name, string Content, int Mode)[] entries)
    {
        var path = Path.Combine(_scratch.FullName, Guid.NewGuid().ToString("N") + ".zip");
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, content, mode) in entries)
        {
            var entry = zip.CreateEntry(name);
            if (mode != 0)
            {
                entry.ExternalAttributes = mode << 16;
            }

            using var writer = new StreamWriter(entry.Open());
            writer.Write(content);
        }

        return path;
    }
}
