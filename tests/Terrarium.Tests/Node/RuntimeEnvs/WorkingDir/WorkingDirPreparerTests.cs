using System.IO.Compression;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.RuntimeEnvs.WorkingDir;

namespace Terrarium.Tests.Node.RuntimeEnvs.WorkingDir;

public sealed class WorkingDirPreparerTests : IDisposable
{
    private readonly NodeCache _cache = new();

    public void Dispose() => _cache.Dispose();

    [Fact]
    public async Task Zip_IsUnpackedInTheCache_AsTheWorkersDirectory_WhoseAssembliesAreProbed()
    {
        var source = Directory.CreateDirectory(Path.Combine(_cache.Scratch, "app")).FullName;
        await File.WriteAllTextAsync(Path.Combine(source, "words.txt"), "alpha beta");
        var zip = Path.Combine(_cache.Scratch, "app.zip");
        ZipFile.CreateFromDirectory(source, zip);

        var setup = await new WorkingDirPreparer(_cache.Packages).PrepareAsync(new RuntimeEnv { WorkingDir = new Uri(zip).AbsoluteUri }, null, CancellationToken.None);

        Assert.NotNull(setup.WorkingDirectory);
        Assert.StartsWith(_cache.Options.CacheDirectory, setup.WorkingDirectory, StringComparison.Ordinal);
        Assert.Equal("alpha beta", await File.ReadAllTextAsync(Path.Combine(setup.WorkingDirectory, "words.txt")));
        Assert.Equal([setup.WorkingDirectory], setup.AssemblyDirectories);
    }

    [Fact]
    public async Task ZipThatIsMissing_FailsTheSetupOfWorkingDir_NamingIt()
    {
        var missing = new Uri(Path.Combine(_cache.Scratch, "gone.zip")).AbsoluteUri;

        var failure = await Assert.ThrowsAsync<RuntimeEnvSetupFailure>(() =>
            new WorkingDirPreparer(_cache.Packages).PrepareAsync(new RuntimeEnv { WorkingDir = missing }, null, CancellationToken.None));

        Assert.Equal("working_dir", failure.Field);
        Assert.Contains("gone.zip", failure.Message, StringComparison.Ordinal);
    }
}
