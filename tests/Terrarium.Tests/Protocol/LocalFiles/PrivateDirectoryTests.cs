using Mono.Unix.Native;
using Terrarium.Protocol.LocalFiles;

namespace Terrarium.Tests.Protocol.LocalFiles;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PrivateDirectoryTests : IDisposable
{
    private const int Nobody = 65534;
    private readonly string _scratch = Directory.CreateTempSubdirectory("terrarium-private-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public void Create_NewFolder_IsReadableAndWritableByItsOwnerOnly()
    {
        var path = PrivateDirectory.Create(Path.Combine(_scratch, "new", "session"));

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public void Create_FolderOthersMayWriteTo_IsRefused()
    {
        // What another user does to intercept the token: create the shared folder first, open to all.
        var planted = Path.Combine(_scratch, "terrarium");
        Directory.CreateDirectory(planted);
        File.SetUnixFileMode(planted, (UnixFileMode)0b111_111_111);

        var error = Assert.Throws<UnauthorizedAccessException>(() => PrivateDirectory.Create(planted));

        Assert.Contains("other users have access to it (mode 777", error.Message, StringComparison.Ordinal);
        Assert.Equal((UnixFileMode)0b111_111_111, File.GetUnixFileMode(planted));
    }

    [SkippableFact]
    public void Create_FolderOwnedByAnotherUser_IsRefused()
    {
        Requirements.Root();
        var planted = Path.Combine(_scratch, "theirs");
        Directory.CreateDirectory(planted, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Assert.Equal(0, Syscall.chown(planted, Nobody, Nobody));

        var error = Assert.Throws<UnauthorizedAccessException>(() => PrivateDirectory.Create(planted));

        Assert.Contains($"owned by uid {Nobody}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_SymlinkToAPrivateFolder_IsRefused()
    {
        var target = PrivateDirectory.Create(Path.Combine(_scratch, "target"));
        var link = Path.Combine(_scratch, "link");
        Directory.CreateSymbolicLink(link, target);

        var error = Assert.Throws<UnauthorizedAccessException>(() => PrivateDirectory.Create(link));

        Assert.Contains("symbolic link", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_OwnFolderOthersMayOnlyRead_IsMadePrivate()
    {
        // An older Terrarium's cache folder: nobody else could have changed what is in it.
        var cache = Path.Combine(_scratch, "cache");
        Directory.CreateDirectory(cache);
        File.SetUnixFileMode(cache, (UnixFileMode)0b111_101_101);

        PrivateDirectory.Create(cache);

        Assert.Equal((UnixFileMode)0b111_000_000, File.GetUnixFileMode(cache));
    }

    [Fact]
    public void SessionFolder_Create_RemovesFoldersOfSessionsWhoseOwnerIsGone_AndKeepsLiveOnes()
    {
        var root = PrivateDirectory.Create(Path.Combine(_scratch, "runtime"));
        using var live = SessionFolder.Create(root);
        var abandoned = Path.Combine(root, "crashed00001");
        Directory.CreateDirectory(abandoned);
        File.WriteAllText(Path.Combine(abandoned, "session.lock"), "");
        File.WriteAllText(Path.Combine(abandoned, "w1.out"), "a crashed driver's worker log");
        var notASession = Directory.CreateDirectory(Path.Combine(root, "other")).FullName;

        using var next = SessionFolder.Create(root);

        Assert.False(Directory.Exists(abandoned));
        Assert.True(Directory.Exists(live.Path));
        Assert.True(Directory.Exists(next.Path));
        Assert.True(Directory.Exists(notASession));
    }

    [Fact]
    public void SessionFolder_Dispose_DeletesTheFolder()
    {
        var root = PrivateDirectory.Create(Path.Combine(_scratch, "runtime"));
        var session = SessionFolder.Create(root);

        session.Dispose();

        Assert.False(Directory.Exists(session.Path));
    }
}
