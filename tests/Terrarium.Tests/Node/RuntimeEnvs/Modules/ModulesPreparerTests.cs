using System.IO.Compression;
using Terrarium.Node.RuntimeEnvs.Modules;

namespace Terrarium.Tests.Node.RuntimeEnvs.Modules;

public sealed class ModulesPreparerTests : IDisposable
{
    private readonly NodeCache _cache = new();

    public void Dispose() => _cache.Dispose();

    [Fact]
    public async Task Nupkg_GivesTheLibFolderNearestThisRuntime_AndAPlainZipItsRoot_InOrder()
    {
        var nupkg = Zip("Lib.1.0.0.nupkg", ("Lib.nuspec", "<package/>"), ("lib/netstandard2.0/Lib.dll", "old"), ("lib/net8.0/Lib.dll", "new"), ("lib/net462/Lib.dll", "framework"));
        var plain = Zip("plain.zip", ("Plain.dll", "plain"));

        var setup = await new ModulesPreparer(_cache.Packages).PrepareAsync(new RuntimeEnv { Modules = [nupkg, plain] }, null, CancellationToken.None);

        Assert.Equal(2, setup.AssemblyDirectories.Count);
        Assert.Equal("new", await File.ReadAllTextAsync(Path.Combine(setup.AssemblyDirectories[0], "Lib.dll")));
        Assert.Equal("plain", await File.ReadAllTextAsync(Path.Combine(setup.AssemblyDirectories[1], "Plain.dll")));
        Assert.Null(setup.WorkingDirectory);
    }

    private string Zip(string name, params (string Path, string Content)[] entries)
    {
        var path = Path.Combine(_cache.Scratch, name);
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            foreach (var (entry, content) in entries)
            {
                using var writer = new StreamWriter(zip.CreateEntry(entry).Open());
                writer.Write(content);
            }
        }

        return new Uri(path).AbsoluteUri;
    }
}
