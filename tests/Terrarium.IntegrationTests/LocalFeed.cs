using NuGet.Frameworks;
using NuGet.Packaging;
using NuGet.Packaging.Core;
using NuGet.Versioning;

namespace Terrarium.IntegrationTests;

/// <summary>
/// A local folder feed the NuGet tests restore from: DepLib 1.0.0, 2.0.0 and 2.1.0-beta1 (the
/// driver references 3.0.0), DepLib.Consumer 1.0.0 depending on DepLib, and Native.Version with a
/// native library for linux-x64. For NuGet's resolution rules also: Cousin.Low and Cousin.High
/// (depending on DepLib 1.0.0 and 2.0.0), Rid.Specific (its linux-x64 build overrides lib/, and a
/// Windows native library that must not be picked), Multi.Target (a dependency only for
/// netstandard2.0) and Old.Framework (net472 only). Built with Roslyn and NuGet's own PackageBuilder.
/// </summary>
public static class LocalFeed
{
    private const string DepLibSource = """
        [assembly: System.Reflection.AssemblyVersion("VERSION")]
        namespace DepLib { public static class Info { public static string Describe() => $"DepLib {typeof(Info).Assembly.GetName().Version}"; } }
        """;

    /// <summary>
    /// Writes a NuGet.Config that knows no source and no fallback folder: the suite restores only
    /// from the envs' own feeds, never from the public one.
    /// </summary>
    public static void WriteIsolatedNuGetConfig(string path) => File.WriteAllText(path, """
        <?xml version="1.0" encoding="utf-8"?>
        <configuration><packageSources><clear /></packageSources><fallbackPackageFolders><clear /></fallbackPackageFolders></configuration>
        """);

    /// <summary>A feed of one DepLib of <paramref name="version"/>: a look-alike, for tests where another feed must not win.</summary>
    public static void BuildDepLib(string feed, string version) =>
        BuildPackage(feed, "DepLib", version, DepLibSource.Replace("VERSION", version + ".0", StringComparison.Ordinal));

    /// <summary>Adds to <paramref name="feed"/> a package of one assembly, named as the package, compiled from <paramref name="source"/>.</summary>
    public static void BuildPackage(string feed, string id, string version, string source)
    {
        Directory.CreateDirectory(feed);
        var scratch = Directory.CreateTempSubdirectory("terrarium-feed-build-").FullName;
        try
        {
            var dll = LibraryBuilder.Build(scratch, id, source);
            Pack(feed, id, version, [], [($"lib/net8.0/{id}.dll", dll)]);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    public static void Build(string feed)
    {
        Directory.CreateDirectory(feed);
        var scratch = Directory.CreateTempSubdirectory("terrarium-feed-build-").FullName;
        try
        {
            string? depLib1 = null;
            foreach (var version in new[] { "1.0.0", "2.0.0", "2.1.0-beta1" })
            {
                var assemblyVersion = version.Split('-')[0] + ".0";
                var dll = LibraryBuilder.Build(Path.Combine(scratch, version), "DepLib", DepLibSource.Replace("VERSION", assemblyVersion, StringComparison.Ordinal));
                depLib1 ??= dll;
                Pack(feed, "DepLib", version, [], [($"lib/net8.0/DepLib.dll", dll)]);
            }

            var consumer = LibraryBuilder.Build(Path.Combine(scratch, "consumer"), "DepLib.Consumer",
                "namespace DepLib.Consumer { public static class Use { public static string Describe() => \"consumer uses \" + DepLib.Info.Describe(); } }",
                depLib1!);
            Pack(feed, "DepLib.Consumer", "1.0.0", [new PackageDependency("DepLib", VersionRange.Parse("1.0.0"))], [("lib/net8.0/DepLib.Consumer.dll", consumer)]);

            var native = LibraryBuilder.Build(Path.Combine(scratch, "native"), "Native.Version",
                "namespace NativeVersion { public static class Zlib { [System.Runtime.InteropServices.DllImport(\"tzlib\")] private static extern System.IntPtr zlibVersion(); " +
                "public static string Version() => System.Runtime.InteropServices.Marshal.PtrToStringAnsi(zlibVersion())!; } }");
            var zlib = new[] { "/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1" }.First(File.Exists);
            Pack(feed, "Native.Version", "1.0.0", [], [("lib/net8.0/Native.Version.dll", native), ("runtimes/linux-x64/native/libtzlib.so", zlib)]);

            var net8 = NuGetFramework.Parse("net8.0");
            var empty = Path.Combine(scratch, "empty");
            File.WriteAllBytes(empty, []);
            Pack(feed, "Cousin.Low", "1.0.0", [new PackageDependency("DepLib", VersionRange.Parse("1.0.0"))], [("lib/net8.0/_._", empty)]);
            Pack(feed, "Cousin.High", "1.0.0", [new PackageDependency("DepLib", VersionRange.Parse("2.0.0"))], [("lib/net8.0/_._", empty)]);
            var anyRid = LibraryBuilder.Build(Path.Combine(scratch, "rid-any"), "RidSpecific", "namespace RidSpecific { public static class Build { public static string Name => \"any\"; } }");
            var linux = LibraryBuilder.Build(Path.Combine(scratch, "rid-linux"), "RidSpecific", "namespace RidSpecific { public static class Build { public static string Name => \"linux-x64\"; } }");
            Pack(feed, "Rid.Specific", "1.0.0", [], [("lib/net8.0/RidSpecific.dll", anyRid), ("runtimes/linux-x64/lib/net8.0/RidSpecific.dll", linux), ("runtimes/win-x64/native/ridspecific.dll", empty)]);
            Pack(feed, "Multi.Target", "1.0.0", [], [("lib/net8.0/MultiTarget.dll", anyRid), ("lib/netstandard2.0/MultiTarget.dll", anyRid)],
                [new PackageDependencyGroup(net8, []), new PackageDependencyGroup(NuGetFramework.Parse("netstandard2.0"), [new PackageDependency("DepLib", VersionRange.Parse("1.0.0"))])]);
            Pack(feed, "Old.Framework", "1.0.0", [], [("lib/net472/OldFramework.dll", anyRid)], [new PackageDependencyGroup(NuGetFramework.Parse("net472"), [])]);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private static void Pack(string feed, string id, string version, PackageDependency[] dependencies, (string Target, string Source)[] files,
        PackageDependencyGroup[]? groups = null)
    {
        var builder = new PackageBuilder
        {
            Id = id,
            Version = NuGetVersion.Parse(version),
            Description = $"{id} for Terrarium's tests",
            Authors = { "terrarium-tests" },
        };
        builder.DependencyGroups.AddRange(groups ?? [new PackageDependencyGroup(NuGetFramework.Parse("net8.0"), dependencies)]);
        foreach (var (target, source) in files)
        {
            builder.Files.Add(new PhysicalPackageFile { SourcePath = source, TargetPath = target });
        }

        using var output = File.Create(Path.Combine(feed, $"{id}.{version}.nupkg"));
        builder.Save(output);
    }
}
