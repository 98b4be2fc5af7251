using System.IO.Compression;
using System.Security.Cryptography;

namespace Terrarium.IntegrationTests;

[Collection(ClusterCollection.Name)]
public sealed class WorkingDirTests(ClusterFixture fixture) : IDisposable
{
    private readonly DirectoryInfo _scratch = Directory.CreateTempSubdirectory("terrarium-wd-");

    private Cluster Cluster => fixture.Cluster;

    [Fact]
    public async Task WorkingDir_TaskReadsADataFileByRelativePath()
    {
        var dir = Write("app", ("data/input.txt", "forty-two"));

        var text = await Cluster.Submit(() => FileTasks.Read("data/input.txt"), WithEnv(new RuntimeEnv { WorkingDir = dir })).DefaultTimeout();

        Assert.Equal("forty-two", text);
    }

    [Fact]
    public async Task WorkingDir_EditedFile_NextTaskSeesTheNewContent()
    {
        var dir = Write("edit", ("value.txt", "v1"));
        var env = WithEnv(new RuntimeEnv { WorkingDir = dir });
        Assert.Equal("v1", await Cluster.Submit(() => FileTasks.Read("value.txt"), env).DefaultTimeout());

        File.WriteAllText(Path.Combine(dir, "value.txt"), "v2, longer");

        Assert.Equal("v2, longer", await Cluster.Submit(() => FileTasks.Read("value.txt"), env).DefaultTimeout());
    }

    [Fact]
    public async Task WorkingDir_WhoseUploadIsStillGoingWhenSubmitReturns_IsWaitedForByTheNode()
    {
        // Submit does not wait for the upload: a package this large is usually still arriving at
        // the head when the node asks for it, and the node waits for it instead of failing.
        var dir = Write("large", ("small.txt", "x"));
        var bytes = RandomNumberGenerator.GetBytes(96 << 20);
        await File.WriteAllBytesAsync(Path.Combine(dir, "large.bin"), bytes);

        var hash = await Cluster.Submit(() => FileTasks.Sha256("large.bin"), WithEnv(new RuntimeEnv { WorkingDir = dir })).DefaultTimeout();

        Assert.Equal(Convert.ToHexString(SHA256.HashData(bytes)), hash);
    }

    [Fact]
    public async Task WorkingDir_SameContentTwice_IsUploadedOnce()
    {
        var dir = Write("once", ("unique.txt", Guid.NewGuid().ToString()));
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, dir);

        var first = await Cluster.Submit(() => FileTasks.WorkingDirUri(), WithEnv(new RuntimeEnv { WorkingDir = dir })).DefaultTimeout();
        var second = await Cluster.Submit(() => FileTasks.WorkingDirUri(), WithEnv(new RuntimeEnv { WorkingDir = relative })).DefaultTimeout();

        Assert.StartsWith("pkg://", first, StringComparison.Ordinal);
        Assert.Equal(first, second);
        var status = await Cluster.GetStatusAsync().DefaultTimeout();
        Assert.Equal(1, status.Packages.Single(p => "pkg://" + p.Hash == first).Uploads);
    }

    [Fact]
    public async Task WorkingDir_ExcludedFiles_AreNotShipped()
    {
        var dir = Write("excl", ("keep.txt", "kept"), ("secret.key", "hidden"), ("logs/today.log", "noise"));
        File.WriteAllText(Path.Combine(dir, ".terrariumignore"), "logs/\n");
        var env = WithEnv(new RuntimeEnv { WorkingDir = dir, Excludes = ["*.key"] });

        Assert.Equal("kept", await Cluster.Submit(() => FileTasks.Read("keep.txt"), env).DefaultTimeout());
        var missingKey = await Assert.ThrowsAsync<TaskFailedException>(() => Cluster.Submit(() => FileTasks.Read("secret.key"), env).DefaultTimeout());
        Assert.Equal("System.IO.FileNotFoundException", missingKey.RemoteType);
        await Assert.ThrowsAsync<TaskFailedException>(() => Cluster.Submit(() => FileTasks.Read("logs/today.log"), env).DefaultTimeout());
    }

    [Fact]
    public async Task Modules_TaskCallsALibraryTheDriverNeverReferenced()
    {
        var name = "Greeter" + Guid.NewGuid().ToString("N")[..8];
        var dll = LibraryBuilder.Build(Path.Combine(_scratch.FullName, "lib"), name,
            "namespace Shipped { public static class Greeter { public static string Hello() => \"hello from a shipped module\"; } }");
        Assert.Throws<FileNotFoundException>(() => System.Reflection.Assembly.Load(name));

        var viaDll = await Cluster.Submit(() => FileTasks.CallModule(name, "Shipped.Greeter", "Hello"), WithEnv(new RuntimeEnv { Modules = [dll] })).DefaultTimeout();
        var viaDirectory = await Cluster.Submit(() => FileTasks.CallModule(name, "Shipped.Greeter", "Hello"),
            WithEnv(new RuntimeEnv { Modules = [Path.GetDirectoryName(dll)!], EnvVars = new Dictionary<string, string> { ["V"] = "dir" } })).DefaultTimeout();

        Assert.Equal("hello from a shipped module", viaDll);
        Assert.Equal("hello from a shipped module", viaDirectory);
    }

    [Fact]
    public async Task Modules_NuPkgFile_LoadsItsLibFolder()
    {
        var name = "Packed" + Guid.NewGuid().ToString("N")[..8];
        var dll = LibraryBuilder.Build(Path.Combine(_scratch.FullName, "packed"), name,
            "namespace Packed { public static class Api { public static string Version() => \"from nupkg\"; } }");
        var nupkg = Path.Combine(_scratch.FullName, name + ".1.0.0.nupkg");
        using (var zip = ZipFile.Open(nupkg, ZipArchiveMode.Create))
        {
            zip.CreateEntryFromFile(dll, $"lib/net8.0/{name}.dll");
            using var nuspec = new StreamWriter(zip.CreateEntry(name + ".nuspec").Open());
            nuspec.Write($"<package><metadata><id>{name}</id><version>1.0.0</version><authors>t</authors><description>t</description></metadata></package>");
        }

        var value = await Cluster.Submit(() => FileTasks.CallModule(name, "Packed.Api", "Version"), WithEnv(new RuntimeEnv { Modules = [nupkg] })).DefaultTimeout();

        Assert.Equal("from nupkg", value);
    }

    [Fact]
    public async Task WorkingDir_FileUriOfAZip_IsFetchedByTheNode_AndVerifiedByItsHash()
    {
        var zipPath = Path.Combine(_scratch.FullName, "remote.zip");
        using (var zip = ZipFile.Open(zipPath, ZipArchiveMode.Create))
        {
            using var entry = new StreamWriter(zip.CreateEntry("remote.txt").Open());
            entry.Write("fetched");
        }

        var hash = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(zipPath))).ToLowerInvariant();
        var uri = new Uri(zipPath).AbsoluteUri;

        Assert.Equal("fetched", await Cluster.Submit(() => FileTasks.Read("remote.txt"), WithEnv(new RuntimeEnv { WorkingDir = uri + "#sha256=" + hash })).DefaultTimeout());
        var wrong = uri + "#sha256=" + new string('0', 64);
        var error = await Assert.ThrowsAsync<RuntimeEnvSetupException>(() => Cluster.Submit(() => FileTasks.Read("remote.txt"), WithEnv(new RuntimeEnv { WorkingDir = wrong })).DefaultTimeout());
        Assert.Equal("working_dir", error.Field);
        Assert.Contains("expected " + new string('0', 64), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WorkingDir_UnknownPackage_FailsWithSetupErrorWhileOtherTasksRun()
    {
        var missing = "pkg://" + new string('a', 64);

        var error = await Assert.ThrowsAsync<RuntimeEnvSetupException>(() => Cluster.Submit(() => TestTasks.Pid(), WithEnv(new RuntimeEnv { WorkingDir = missing })).DefaultTimeout());

        Assert.Equal("working_dir", error.Field);
        Assert.Contains("not in the head's store", error.Message, StringComparison.Ordinal);
        Assert.Equal(4, await Cluster.Submit(() => TestTasks.Square(2)).DefaultTimeout());
    }

    [Fact]
    public void WorkingDir_MissingPath_ThrowsArgumentExceptionNamingIt()
    {
        var missing = Path.Combine(_scratch.FullName, "nope");

        var error = Assert.Throws<ArgumentException>(() => Cluster.Submit(() => TestTasks.Pid(), WithEnv(new RuntimeEnv { WorkingDir = missing })));

        Assert.Contains($"working_dir '{missing}' does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WorkingDir_RemoteUriThatIsNotAZip_ThrowsArgumentException()
    {
        var error = Assert.Throws<ArgumentException>(() => Cluster.Submit(() => TestTasks.Pid(), WithEnv(new RuntimeEnv { WorkingDir = "https://example.invalid/code.tar.gz" })));

        Assert.Contains("must point to a .zip", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Modules_UnsupportedFile_ThrowsArgumentException()
    {
        var file = Path.Combine(_scratch.FullName, "notes.txt");
        File.WriteAllText(file, "x");

        Assert.Throws<ArgumentException>(() => Cluster.Submit(() => TestTasks.Pid(), WithEnv(new RuntimeEnv { Modules = [file] })));
    }

    [Fact]
    public async Task Actor_WithWorkingDir_RunsInIt()
    {
        var dir = Write("actor", ("state.txt", "actor data"));
        var reader = Cluster.CreateActor(() => new FileReader(), new ActorOptions { RuntimeEnv = new RuntimeEnv { WorkingDir = dir } });

        Assert.Equal("actor data", await reader.Call(r => r.Read("state.txt")).DefaultTimeout());
        await reader.KillAsync().DefaultTimeout();
    }

    [Fact]
    public async Task NestedTask_LocalPathRelativeToTheWorkersWorkingDir_IsShippedToo()
    {
        var dir = Write("nested", ("sub/inner.txt", "from the nested working dir"));

        var text = await Cluster.Submit(() => FileTasks.ChildReadsFromSubdirectory("sub", "inner.txt"), WithEnv(new RuntimeEnv { WorkingDir = dir })).DefaultTimeout();

        Assert.Equal("from the nested working dir", text);
    }

    public void Dispose() => _scratch.Delete(recursive: true);

    private static TaskOptions WithEnv(RuntimeEnv env) => new() { RuntimeEnv = env };

    private string Write(string name, params (string Path, string Content)[] files)
    {
        var root = Path.Combine(_scratch.FullName, name);
        foreach (var (path, content) in files)
        {
            var full = Path.Combine(root, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full, content);
        }

        return root;
    }
}
