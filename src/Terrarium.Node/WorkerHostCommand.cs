namespace Terrarium.Node;

/// <summary>How a node starts a worker process: <c>dotnet HostAssembly worker</c>.</summary>
/// <param name="DotnetPath">The <c>dotnet</c> host executable.</param>
/// <param name="HostAssemblyPath">The assembly whose entry point is the worker host (Terrarium.dll).</param>
public sealed record WorkerHostCommand(string DotnetPath, string HostAssemblyPath)
{
    /// <summary>The <c>dotnet</c> that runs this process, or the one on PATH.</summary>
    public static string CurrentDotnet()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath && File.Exists(hostPath))
        {
            return hostPath;
        }

        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) is "dotnet")
        {
            return Environment.ProcessPath!;
        }

        // shared/Microsoft.NETCore.App/<version>/ is three levels below the dotnet root.
        var runtimeDir = System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory();
        var candidate = Path.GetFullPath(Path.Combine(runtimeDir, "..", "..", "..", OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet"));
        return File.Exists(candidate) ? candidate : "dotnet";
    }
}
