using Terrarium.Protocol.LocalFiles;

namespace Terrarium.Tests.Protocol.LocalFiles;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class TrustedPathTests : IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("terrarium-trusted-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public void Problem_FileInFoldersOnlyThisUserWrites_IsNone()
    {
        var file = Path.Combine(Directory.CreateDirectory(Path.Combine(_scratch, "mine")).FullName, "python");
        File.WriteAllText(file, "");

        Assert.Null(TrustedPath.Problem(file));
    }

    [Fact]
    public void Problem_FolderOthersMayWrite_IsNamed()
    {
        var open = Directory.CreateDirectory(Path.Combine(_scratch, "open")).FullName;
        File.SetUnixFileMode(open, (UnixFileMode)0b111_111_111);
        File.WriteAllText(Path.Combine(open, "python"), "");

        Assert.Contains($"other users may write to '{open}'", TrustedPath.Problem(Path.Combine(open, "python")), StringComparison.Ordinal);
    }

    [Fact]
    public void Problem_PathThroughALinkIntoAFolderOthersMayWrite_IsNamed()
    {
        var open = Directory.CreateDirectory(Path.Combine(_scratch, "open")).FullName;
        File.SetUnixFileMode(open, (UnixFileMode)0b111_111_111);
        File.WriteAllText(Path.Combine(open, "python"), "");
        var mine = Directory.CreateDirectory(Path.Combine(_scratch, "mine")).FullName;
        Directory.CreateSymbolicLink(Path.Combine(mine, "env"), open);

        Assert.Contains($"other users may write to '{open}'", TrustedPath.Problem(Path.Combine(mine, "env", "python")), StringComparison.Ordinal);
    }

    [Fact]
    public void Problem_PathThatDoesNotExist_SaysSo() =>
        Assert.Contains("does not exist", TrustedPath.Problem(Path.Combine(_scratch, "nothing")), StringComparison.Ordinal);
}
