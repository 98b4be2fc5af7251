using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using Microsoft.Extensions.Logging;
using NuGet.Frameworks;
using NuGet.ProjectModel;
using NuGet.Versioning;
using Terrarium.Node.Service;
using Terrarium.Protocol;

namespace Terrarium.Node.RuntimeEnvs.NuGetPackages;

/// <summary>
/// Restores an env's <c>nuget</c> packages with the SDK's own restore of a generated project, so that
/// NuGet's semantics hold: transitive dependencies, ranges, NuGet.Config sources and credentials,
/// and the RID-specific and native assets of this node. Packages land in one node-wide folder; a
/// resolution is done once per package spec and remembered on disk. A new spec whose packages the
/// folder already holds, at versions no source could change, is resolved in process instead
/// (<see cref="NuGetFolderResolver"/>): that costs milliseconds where a restore costs seconds.
/// The restore reads nothing from the folders above its own — the cache may sit under one that
/// others can write, such as <c>/tmp</c>, and MSBuild, NuGet and the .NET host each look upwards
/// (<c>Directory.Build.rsp</c>, <c>NuGet.Config</c>, <c>global.json</c>): see <see cref="RunRestoreAsync"/>.
/// </summary>
internal sealed class NuGetRestorer
{
    private static readonly string s_rid = RuntimeInformation.RuntimeIdentifier;
    private static readonly NuGetFramework s_framework = NuGetFramework.Parse("net" + Environment.Version.ToString(2));
    private readonly SemaphoreSlim _restores = new(2);
    private readonly NodeOptions _options;
    private readonly ILogger<NuGetRestorer> _logger;
    private readonly Lazy<NuGetFolderResolver?> _folderResolver;
    private int _restoresRun;

    public NuGetRestorer(NodeOptions options, ILogger<NuGetRestorer> logger)
    {
        _options = options;
        _logger = logger;
        _folderResolver = new(CreateFolderResolver);
        _configFile = new(FindConfigFile);
    }

    private readonly Lazy<string> _configFile;

    /// <summary>How many restores this node has run (remembered ones do not count).</summary>
    public int RestoresRun => _restoresRun;

    /// <summary>Where restored packages are kept, shared by every nuget env of the node.</summary>
    public string PackagesFolder => Path.Combine(_options.CacheDirectory, "nuget", "packages");

    /// <exception cref="RuntimeEnvSetupFailure">The restore failed; the message names the package, the log has the output.</exception>
    public async Task<NuGetEnvironment> RestoreAsync(IReadOnlyList<string> packages, IReadOnlyList<string> sources, CancellationToken ct)
    {
        foreach (var package in packages)
        {
            CheckPackage(package);
        }

        var key = Key(packages, sources);
        var directory = Path.Combine(_options.CacheDirectory, "nuget", "envs", key);
        var resolvedPath = Path.Combine(directory, "resolved.json");
        if (TryLoad(resolvedPath) is { } remembered)
        {
            return remembered;
        }

        // Sources do not matter here: NuGet's restore does not ask them for a version its folder holds.
        if (await ResolveFromFolderAsync(packages, ct).ConfigureAwait(false) is { } fromFolder)
        {
            Remember(resolvedPath, fromFolder);
            return fromFolder;
        }

        await _restores.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (TryLoad(resolvedPath) is { } restoredMeanwhile)
            {
                return restoredMeanwhile;
            }

            Directory.CreateDirectory(directory);
            var project = Path.Combine(directory, "restore.csproj");
            File.WriteAllText(project, ProjectXml(packages, sources));
            // Stops the host's search for a global.json in the folders above (one there could pick
            // another SDK, or none); it asks for what no global.json would: the newest SDK.
            File.WriteAllText(Path.Combine(directory, "global.json"), """{"sdk":{"rollForward":"latestMajor","allowPrerelease":true}}""");
            NodeLog.RestoringNuGet(_logger, string.Join(", ", packages));
            Interlocked.Increment(ref _restoresRun);
            var (exitCode, output) = await RunRestoreAsync(project, ct).ConfigureAwait(false);
            if (exitCode != 0)
            {
                throw new RuntimeEnvSetupFailure("nuget", "restore failed: " + Summarize(output, packages), output);
            }

            var environment = ReadAssets(Path.Combine(directory, "obj", "project.assets.json"), output);
            Remember(resolvedPath, environment);
            return environment;
        }
        finally
        {
            _restores.Release();
        }
    }

    /// <summary>Null when the SDK's facts cannot be read: then every new spec is restored.</summary>
    private NuGetFolderResolver? CreateFolderResolver()
    {
        try
        {
            return SdkRestoreFacts.Find(_options.WorkerHost!.DotnetPath, Environment.Version.Major) is { } sdk
                ? new NuGetFolderResolver(PackagesFolder, s_framework, s_rid, sdk)
                : null;
        }
        catch (Exception e) when (IsUnreadable(e))
        {
            NodeLog.PackageFolderResolutionFailed(_logger, "(reading the SDK's RID graph and framework packages)", e);
            return null;
        }
    }

    private static bool IsUnreadable(Exception e) =>
        e is IOException or UnauthorizedAccessException or InvalidDataException or System.Xml.XmlException
            or JsonException or NuGet.Packaging.Core.PackagingException or InvalidOperationException;

    private async Task<NuGetEnvironment?> ResolveFromFolderAsync(IReadOnlyList<string> packages, CancellationToken ct)
    {
        if (_folderResolver.Value is not { } resolver)
        {
            return null;
        }

        var listed = string.Join(", ", packages);
        try
        {
            var resolution = await resolver.ResolveAsync(packages.Select(Parse).ToList(), ct).ConfigureAwait(false);
            if (resolution.Environment is null)
            {
                NodeLog.PackageFolderNotEnough(_logger, listed, resolution.NeedsRestoreBecause!);
                return null;
            }

            NodeLog.ResolvedFromPackageFolder(_logger, listed);
            return resolution.Environment;
        }
        catch (Exception e) when (IsUnreadable(e))
        {
            // A damaged package folder is the restore's to repair.
            NodeLog.PackageFolderResolutionFailed(_logger, listed, e);
            return null;
        }
    }

    /// <summary>"Id@range" → (Id, range); an id alone floats to the newest version, as the restore project says.</summary>
    private static (string Id, VersionRange Range) Parse(string spec)
    {
        var at = spec.IndexOf('@', StringComparison.Ordinal);
        return at < 0 ? (spec, VersionRange.Parse("*")) : (spec[..at], VersionRange.Parse(spec[(at + 1)..]));
    }

    /// <summary>
    /// A source the node restores from: a feed URL or a folder the node unpacked itself. Anything else
    /// from a client is refused; a source is never passed where it could be read as more settings.
    /// </summary>
    /// <exception cref="RuntimeEnvSetupFailure">The source is neither.</exception>
    public static void CheckSource(string source, bool shipped)
    {
        var isFeedUrl = Uri.TryCreate(source, UriKind.Absolute, out var uri)
            && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp)
            && !source.Contains(';', StringComparison.Ordinal) && !source.Any(char.IsWhiteSpace);
        if (!isFeedUrl && !(shipped && Path.IsPathFullyQualified(source)))
        {
            throw new RuntimeEnvSetupFailure("nuget", $"source '{source}' is not an https:// or http:// feed URL or a shipped folder (pkg://)", "");
        }
    }

    /// <summary>A package spec from a client, checked again here: it is written into the restore's project.</summary>
    /// <exception cref="RuntimeEnvSetupFailure">The id or the version range is not NuGet's.</exception>
    public static void CheckPackage(string spec)
    {
        var at = spec.IndexOf('@', StringComparison.Ordinal);
        var (id, range) = at < 0 ? (spec, null) : (spec[..at], spec[(at + 1)..]);
        if (!NuGet.Packaging.PackageIdValidator.IsValidPackageId(id) || (range is not null && !NuGet.Versioning.VersionRange.TryParse(range, out _)))
        {
            throw new RuntimeEnvSetupFailure("nuget", $"'{spec}' is not a package id with an optional @version or range", "");
        }
    }

    private static string ProjectXml(IReadOnlyList<string> packages, IReadOnlyList<string> sources)
    {
        var references = packages.Select(spec =>
        {
            var at = spec.IndexOf('@', StringComparison.Ordinal);
            var (id, range) = at < 0 ? (spec, "*") : (spec[..at], spec[(at + 1)..]);
            return new XElement("PackageReference", new XAttribute("Include", id), new XAttribute("Version", range));
        });
        var project = new XElement("Project", new XAttribute("Sdk", "Microsoft.NET.Sdk"),
            new XElement("PropertyGroup",
                new XElement("TargetFramework", s_framework.GetShortFolderName()),
                new XElement("RuntimeIdentifier", s_rid),
                new XElement("ImplicitUsings", "disable"),
                new XElement("NuGetAudit", "false"),
                new XElement("TreatWarningsAsErrors", "false"),
                // Escaped for MSBuild, so that no character of a source is read as a separator or an expression.
                new XElement("RestoreAdditionalProjectSources", string.Join(";", sources.Select(EscapeForMSBuild)))),
            new XElement("ItemGroup", references));
        return project.ToString();
    }

    /// <summary>MSBuild's own escaping: <c>%XX</c> for each character that has a meaning in a property value.</summary>
    internal static string EscapeForMSBuild(string value)
    {
        var escaped = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            if (c is '%' or '$' or '@' or '\'' or ';' or '?' or '*' or '(' or ')')
            {
                escaped.Append('%').Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                escaped.Append(c);
            }
        }

        return escaped.ToString();
    }

    private async Task<(int ExitCode, string Output)> RunRestoreAsync(string project, CancellationToken ct)
    {
        var start = new ProcessStartInfo(_options.WorkerHost!.DotnetPath)
        {
            WorkingDirectory = Path.GetDirectoryName(project)!,
        };
        foreach (var argument in new[]
        {
            "restore", project, "--nologo", "-v:minimal",
            $"-p:RestorePackagesPath={PackagesFolder}",
            // The generated project stands alone: no Directory.Build/Packages.props of a tree it may
            // sit in, no Directory.Build.rsp (whose switches could import anyone's targets), and one
            // NuGet config named here, so that NuGet does not gather those of the folders above.
            "-p:ImportDirectoryBuildProps=false", "-p:ImportDirectoryBuildTargets=false", "-p:ImportDirectoryPackagesProps=false",
            "-p:ManagePackageVersionsCentrally=false", "-noAutoResponse",
            $"-p:RestoreConfigFile={EscapeForMSBuild(_configFile.Value)}",
        })
        {
            start.ArgumentList.Add(argument);
        }

        // A node started by 'dotnet test' or 'dotnet run' inherits MSBuild settings meant for that build.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k == "MSBUILD_EXE_PATH").ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";

        var (exitCode, output, errors) = await CommandRunner.RunAsync(start, ct).ConfigureAwait(false);
        return (exitCode, errors.Length == 0 ? output : $"{output}\n{errors}");
    }

    /// <summary>
    /// The NuGet config the restores use: the node's <c>--nuget-config</c>, else this user's own
    /// (<c>~/.nuget/NuGet/NuGet.Config</c>, as NuGet finds it without looking in any folder), else
    /// one of the node's own naming nuget.org.
    /// </summary>
    private string FindConfigFile()
    {
        if (_options.NuGetConfigFile is { } given)
        {
            return given;
        }

        try
        {
            var files = NuGet.Configuration.Settings.LoadDefaultSettings(root: null).GetConfigFilePaths();
            if (files.Count > 0)
            {
                if (files.Count > 1)
                {
                    NodeLog.NuGetConfigsNotRead(_logger, files[0], string.Join(", ", files.Skip(1)));
                }

                return files[0];
            }
        }
        catch (NuGet.Configuration.NuGetConfigurationException e)
        {
            NodeLog.NuGetConfigUnreadable(_logger, e.Message);
        }

        var own = Path.Combine(_options.CacheDirectory, "nuget", "NuGet.Config");
        Directory.CreateDirectory(Path.GetDirectoryName(own)!);
        File.WriteAllText(own, """
            <?xml version="1.0" encoding="utf-8"?>
            <configuration><packageSources><clear /><add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" /></packageSources></configuration>
            """);
        return own;
    }

    private NuGetEnvironment ReadAssets(string assetsPath, string output)
    {
        var lockFile = LockFileUtilities.GetLockFile(assetsPath, NuGet.Common.NullLogger.Instance)
            ?? throw new RuntimeEnvSetupFailure("nuget", $"restore wrote no readable assets file at {assetsPath}", output);
        var target = lockFile.GetTarget(s_framework, s_rid) ?? lockFile.GetTarget(s_framework, null)
            ?? throw new RuntimeEnvSetupFailure("nuget", $"the assets file has no target for {s_framework.GetShortFolderName()}/{s_rid}", output);
        var packages = new List<ResolvedNuGetPackage>();
        var assemblies = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var natives = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var library in target.Libraries.Where(l => l.Type == "package"))
        {
            var folder = Path.Combine(PackagesFolder, library.Name!.ToLowerInvariant(), library.Version!.ToNormalizedString().ToLowerInvariant());
            var resolved = new ResolvedNuGetPackage { Id = library.Name, Version = library.Version.ToNormalizedString() };
            foreach (var item in library.RuntimeAssemblies.Where(a => !a.Path.EndsWith("/_._", StringComparison.Ordinal)))
            {
                assemblies[Path.GetFileNameWithoutExtension(item.Path)] = Path.Combine(folder, item.Path);
                resolved.Assets.Add(item.Path);
            }

            foreach (var item in library.NativeLibraries.Where(a => !a.Path.EndsWith("/_._", StringComparison.Ordinal)))
            {
                natives[NativeName(item.Path)] = Path.Combine(folder, item.Path);
                resolved.Assets.Add(item.Path);
            }

            packages.Add(resolved);
        }

        return new NuGetEnvironment(packages, assemblies, natives);
    }

    /// <summary>"runtimes/linux-x64/native/libfoo.so" → "foo", the name DllImport asks for.</summary>
    internal static string NativeName(string path)
    {
        var name = Path.GetFileNameWithoutExtension(path);
        return name.StartsWith("lib", StringComparison.Ordinal) && !OperatingSystem.IsWindows() ? name[3..] : name;
    }

    /// <summary>The NuGet errors of a failed restore, which name the packages; else its last lines.</summary>
    private static string Summarize(string output, IReadOnlyList<string> packages)
    {
        var errors = output.Split('\n')
            .Select(line => line.Trim())
            .Where(line => line.Contains(": error NU", StringComparison.Ordinal) || line.StartsWith("error NU", StringComparison.Ordinal))
            .Select(line => line[(line.IndexOf("error NU", StringComparison.Ordinal))..])
            .Select(line => line.Contains(" [", StringComparison.Ordinal) ? line[..line.LastIndexOf(" [", StringComparison.Ordinal)] : line)
            .Distinct()
            .ToList();
        return errors.Count > 0
            ? string.Join("; ", errors)
            : $"dotnet restore of [{string.Join(", ", packages)}] failed: {string.Join(" ", output.Split('\n').TakeLast(5)).Trim()}";
    }

    private static string Key(IReadOnlyList<string> packages, IReadOnlyList<string> sources)
    {
        var text = $"{s_framework.GetShortFolderName()}|{s_rid}|{string.Join(";", packages)}|{string.Join(";", sources)}";
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..32].ToLowerInvariant();
    }

    /// <summary>Written whole or not at all: a reader never sees half a file.</summary>
    private static void Remember(string path, NuGetEnvironment environment)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var partial = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.partial";
        File.WriteAllText(partial, JsonSerializer.Serialize(Remembered.From(environment)));
        File.Move(partial, path, overwrite: true);
    }

    private static NuGetEnvironment? TryLoad(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            var remembered = JsonSerializer.Deserialize<Remembered>(File.ReadAllText(path));
            // Someone may have cleaned the package folder since.
            return remembered is not null && remembered.Assemblies.Values.Concat(remembered.Natives.Values).All(File.Exists)
                ? remembered.ToEnvironment()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private sealed record RememberedNuGetPackage(string Id, string Version, List<string> Assets);

    private sealed record Remembered(List<RememberedNuGetPackage> PackageList, Dictionary<string, string> Assemblies, Dictionary<string, string> Natives)
    {
        public static Remembered From(NuGetEnvironment environment) => new(
            environment.Packages.Select(p => new RememberedNuGetPackage(p.Id, p.Version, p.Assets.ToList())).ToList(),
            new Dictionary<string, string>(environment.Assemblies),
            new Dictionary<string, string>(environment.NativeLibraries));

        public NuGetEnvironment ToEnvironment() => new(
            PackageList.Select(p => new ResolvedNuGetPackage { Id = p.Id, Version = p.Version, Assets = { p.Assets } }).ToList(),
            Assemblies, Natives);
    }
}
