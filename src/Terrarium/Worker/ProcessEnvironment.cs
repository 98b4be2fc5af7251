using System.Runtime.InteropServices;

namespace Terrarium.Worker;

/// <summary>
/// Gives this process a runtime env's variables and working dir after it started, as a pre-started
/// worker must: in .NET's view and in the C library's, so native code calling <c>getenv</c> sees them too.
/// </summary>
internal static partial class ProcessEnvironment
{
    public static void Apply(IReadOnlyDictionary<string, string> variables, string workingDirectory)
    {
        foreach (var (name, value) in variables)
        {
            Environment.SetEnvironmentVariable(name, value);
            if (!OperatingSystem.IsWindows() && SetNative(name, value, 1) != 0)
            {
                throw new InvalidOperationException($"setenv({name}) failed with errno {Marshal.GetLastPInvokeError()}");
            }
        }

        if (workingDirectory.Length > 0)
        {
            Directory.SetCurrentDirectory(workingDirectory);
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetNative(string name, string value, int overwrite);
}
