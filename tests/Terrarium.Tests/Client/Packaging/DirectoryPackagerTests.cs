using System.IO.Compression;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Terrarium.Packaging;

namespace Terrarium.Tests.Client.Packaging;

public sealed class DirectoryPackagerTests : IDisposable
{
    private readonly DirectoryInfo _scratch = Directory.CreateTempSubdirectory("terrarium-pack-");
    private readonly FakeLogger _log = new();

    private DirectoryPackager Packager(long max = 1L << 30) => new(max, _log);

    [Fact]
    public void Pack_SameContentWrittenInAnotherOrderWithOtherTimestamps_HasTheSameHash()
    {
        var a = Write("a", ("x.txt", "1"), ("sub/y.txt", "2"), ("z.bin", "3"));
        var b = Write("b", ("z.bin", "3"), ("sub/y.txt", "2"), ("x.txt", "1"));
        File.SetLastWriteTimeUtc(Path.Combine(b, "x.txt"), new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc));

        Assert.Equal(Packager().PackDirectory(a, [], "working_dir").Hash, Packager().PackDirectory(b, [], "working_dir").Hash);
    }

    [Fact]
    public void Pack_NamedPipeOrSocketInTheTree_IsRefusedNamingIt_UnlessExcluded()
    {
        var dir = Write("special", ("f.txt", "content"));
        Assert.Equal(0, Mono.Unix.Native.Syscall.mkfifo(Path.Combine(dir, "in.pipe"), Mono.Unix.Native.FilePermissions.DEFFILEMODE));
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        Directory.CreateDirectory(Path.Combine(dir, "run"));
        socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(Path.Combine(dir, "run", "app.sock")));

        var pipe = Assert.Throws<ArgumentException>(() => Packager().PackDirectory(dir, ["run/"], "working_dir"));
        var sock = Assert.Throws<ArgumentException>(() => Packager().PackDirectory(dir, ["*.pipe"], "working_dir"));

        Assert.Contains("'in.pipe' is a named pipe (FIFO), not a regular file", pipe.Message, StringComparison.Ordinal);
        Assert.Contains("'run/app.sock' is a socket, not a regular file", sock.Message, StringComparison.Ordinal);
        Assert.Contains("leave it out with excludes", sock.Message, StringComparison.Ordinal);
        Packager().PackDirectory(dir, ["*.pipe", "run/"], "working_dir");
    }

    [Fact]
    public void Pack_RelativeAndAbsolutePath_HaveTheSameHash()
    {
        var dir = Write("rel", ("f.txt", "content"));
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, dir);

        Assert.Equal(Packager().PackDirectory(dir, [], "working_dir").Hash, Packager().PackDirectory(relative, [], "working_dir").Hash);
    }

    [Fact]
    public void Pack_ChangedContent_ChangesTheHash()
    {
        var dir = Write("change", ("f.txt", "one"));
        var before = Packager().PackDirectory(dir, [], "working_dir").Hash;
        File.WriteAllText(Path.Combine(dir, "f.txt"), "two");

        Assert.NotEqual(before, Packager().PackDirectory(dir, [], "working_dir").Hash);
    }

    [Fact]
    public void Pack_ExcludedFile_IsAsIfDeleted()
    {
        var with = Write("with", ("keep.txt", "k"), ("drop.log", "d"), ("deep/more.log", "d"));
        var without = Write("without", ("keep.txt", "k"));
        Directory.CreateDirectory(Path.Combine(without, "deep"));

        var excluded = Packager().PackDirectory(with, ["*.log"], "working_dir");

        Assert.Equal(["deep/", "keep.txt"], Entries(excluded));
        Assert.Equal(Packager().PackDirectory(without, [], "working_dir").Hash, excluded.Hash);
    }

    [Fact]
    public void Pack_GitignoreInASubdirectory_AppliesBelowIt()
    {
        var dir = Write("gi", ("top.tmp", "t"), ("sub/.gitignore", "*.tmp\n"), ("sub/inner.tmp", "i"), ("sub/kept.txt", "k"));

        Assert.Equal(["sub/.gitignore", "sub/kept.txt", "top.tmp"], Entries(Packager().PackDirectory(dir, [], "working_dir")));
    }

    [Fact]
    public void Pack_TerrariumIgnore_IsHonoured()
    {
        var dir = Write("ti", (".terrariumignore", "data/\n"), ("data/big.csv", "x"), ("code.txt", "c"));

        Assert.Equal([".terrariumignore", "code.txt"], Entries(Packager().PackDirectory(dir, [], "working_dir")));
    }

    [Fact]
    public void Pack_GitAndBuildLeftovers_AreLeftOutUnlessReIncluded()
    {
        var dir = Write("defaults", (".git/HEAD", "ref"), ("bin/app.dll", "b"), ("obj/x.json", "o"), ("src.txt", "s"));

        Assert.Equal(["src.txt"], Entries(Packager().PackDirectory(dir, [], "working_dir")));
        Assert.Equal(["bin/app.dll", "src.txt"], Entries(Packager().PackDirectory(dir, ["!bin/"], "working_dir")));
    }

    [Fact]
    public void Pack_EmptyDirectory_IsKept()
    {
        var dir = Write("empty", ("f.txt", "x"));
        var before = Packager().PackDirectory(dir, [], "working_dir").Hash;
        Directory.CreateDirectory(Path.Combine(dir, "out"));

        var package = Packager().PackDirectory(dir, [], "working_dir");

        Assert.Contains("out/", Entries(package));
        Assert.NotEqual(before, package.Hash);
    }

    [Fact]
    public void Pack_SymlinkOutsideTheTree_IsRefusedNamingIt()
    {
        var outside = Write("outside", ("secret.txt", "s"));
        var dir = Write("linked", ("f.txt", "x"));
        File.CreateSymbolicLink(Path.Combine(dir, "escape.txt"), Path.Combine(outside, "secret.txt"));

        var error = Assert.Throws<ArgumentException>(() => Packager().PackDirectory(dir, [], "working_dir"));

        Assert.Contains("symlink 'escape.txt' points outside", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pack_SymlinkInsideTheTree_ShipsItsTarget()
    {
        var dir = Write("inner", ("real.txt", "content"));
        File.CreateSymbolicLink(Path.Combine(dir, "alias.txt"), Path.Combine(dir, "real.txt"));

        var package = Packager().PackDirectory(dir, [], "working_dir");

        using var zip = ZipFile.OpenRead(package.Path);
        using var reader = new StreamReader(zip.GetEntry("alias.txt")!.Open());
        Assert.Equal("content", reader.ReadToEnd());
    }

    [Fact]
    public void Pack_OverTheLimit_NamesTheLargestFiles()
    {
        var dir = Write("big", ("small.txt", "x"), ("large.bin", new string('x', 4000)));

        var error = Assert.Throws<ArgumentException>(() => Packager(max: 1000).PackDirectory(dir, [], "working_dir"));

        Assert.Contains("large.bin", error.Message, StringComparison.Ordinal);
        Assert.Contains("over the", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pack_FileOver50MiB_Warns()
    {
        var dir = Write("warn", ("small.txt", "x"));
        using (var large = File.Create(Path.Combine(dir, "huge.bin")))
        {
            large.SetLength(DirectoryPackager.LargeFileBytes + 1);
        }

        Packager().PackDirectory(dir, [], "working_dir");

        var warning = Assert.Single(_log.Collector.GetSnapshot());
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("'huge.bin' is 50 MiB", warning.Message, StringComparison.Ordinal);
    }

    public void Dispose() => _scratch.Delete(recursive: true);

    private static List<string> Entries(PackageFile package)
    {
        using var zip = ZipFile.OpenRead(package.Path);
        return zip.Entries.Select(e => e.FullName).ToList();
    }

    private string Write(string name, params (string Path, string Content)[] files)
    {
        var root = Path.Combine(_scratch.FullName, name);
        Directory.CreateDirectory(root);
        foreach (var (path, content) in files)
        {
            var full = Path.Combine(root, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full, content);
        }

        return root;
    }
}
