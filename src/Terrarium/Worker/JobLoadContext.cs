using System.Reflection;
using System.Runtime.Loader;

namespace Terrarium.Worker;

/// <summary>
/// Where a worker loads user code. Resolution order: the env's NuGet packages, its modules and
/// working dir, then the job's code, then the host. Only Terrarium's own assemblies are always the host's (so that user code and
/// the worker agree on <see cref="Cluster"/>, <see cref="ObjectRef{T}"/> and friends); a job's copy of
/// an assembly the host carries in the same version is the host's too, so there is one copy of it.
/// </summary>
internal sealed class JobLoadContext : AssemblyLoadContext
{
    private static readonly HashSet<string> s_shared = ["Terrarium", "Terrarium.Protocol", "Terrarium.Head", "Terrarium.Node"];
    private readonly IReadOnlyDictionary<string, string> _packageAssemblies;
    private readonly IReadOnlyDictionary<string, string> _nativeLibraries;
    private readonly IReadOnlyList<string> _envDirectories;
    private readonly string _jobDirectory;
    private static readonly Lazy<Dictionary<string, string>> s_hostAssemblies = new(() =>
        ((string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .GroupBy(Path.GetFileNameWithoutExtension, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key!, g => g.First(), StringComparer.OrdinalIgnoreCase));

    /// <param name="packageAssemblies">The env's NuGet assemblies by simple name: they win over everything but Terrarium.</param>
    /// <param name="nativeLibraries">The env's native libraries by the name DllImport asks for.</param>
    /// <param name="envDirectories">Directories of the env's modules and working dir, in priority order.</param>
    /// <param name="jobDirectory">The job's code.</param>
    public JobLoadContext(IReadOnlyDictionary<string, string> packageAssemblies, IReadOnlyDictionary<string, string> nativeLibraries,
        IReadOnlyList<string> envDirectories, string jobDirectory) : base("terrarium-job")
    {
        _packageAssemblies = packageAssemblies;
        _nativeLibraries = nativeLibraries;
        _envDirectories = envDirectories;
        _jobDirectory = jobDirectory;
    }

    /// <summary>Reads the host's assembly list ahead of the first load (see <see cref="WorkerWarmUp"/>).</summary>
    public static void WarmUp() => _ = s_hostAssemblies.Value;

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        var name = assemblyName.Name!;
        if (s_shared.Contains(name))
        {
            return null;
        }

        if (_packageAssemblies.TryGetValue(name, out var packaged))
        {
            return LoadFromAssemblyPath(packaged);
        }

        foreach (var directory in _envDirectories)
        {
            var candidate = Path.Combine(directory, name + ".dll");
            if (File.Exists(candidate))
            {
                return LoadFromAssemblyPath(candidate);
            }
        }

        var jobCopy = Path.Combine(_jobDirectory, name + ".dll");
        if (!File.Exists(jobCopy))
        {
            return null;
        }

        return IsSameAsHost(name, jobCopy) ? null : LoadFromAssemblyPath(jobCopy);
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        var name = Path.GetFileNameWithoutExtension(unmanagedDllName);
        if (name.StartsWith("lib", StringComparison.Ordinal) && !_nativeLibraries.ContainsKey(name))
        {
            name = name[3..];
        }

        return _nativeLibraries.TryGetValue(name, out var path) ? LoadUnmanagedDllFromPath(path) : IntPtr.Zero;
    }

    private bool IsSameAsHost(string name, string jobCopy)
    {
        if (!s_hostAssemblies.Value.TryGetValue(name, out var hostPath))
        {
            return false;
        }

        try
        {
            return AssemblyName.GetAssemblyName(jobCopy).Version == AssemblyName.GetAssemblyName(hostPath).Version;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }
}
