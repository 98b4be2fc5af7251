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

    /// <summary>
    /// A node that lent this worker its OpenSSL set <c>LD_LIBRARY_PATH</c> for the loader, which has
    /// read it by now: put back what user code should see (the image's or the env's value, or none),
    /// so that processes the worker starts see the image as it is.
    /// </summary>
    public static void RestoreLoaderPath()
    {
        const string restore = "TERRARIUM_RESTORE_LD_LIBRARY_PATH";
        if (Environment.GetEnvironmentVariable(restore) is not { } value)
        {
            return;
        }

        Set("LD_LIBRARY_PATH", value.StartsWith("set:", StringComparison.Ordinal) ? value[4..] : null);
        Set(restore, null);
    }

    private static void Set(string name, string? value)
    {
        Environment.SetEnvironmentVariable(name, value);
        if (!OperatingSystem.IsWindows() && (value is null ? UnsetNative(name) : SetNative(name, value, 1)) != 0)
        {
            throw new InvalidOperationException($"setenv({name}) failed with errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetNative(string name, string value, int overwrite);

    [LibraryImport("libc", EntryPoint = "unsetenv", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UnsetNative(string name);
}
