namespace Terrarium.Protocol.SharedMemory;

/// <summary>Which running machine this is: processes with the same boot id share its memory.</summary>
public static class MachineIdentity
{
    private static readonly Lazy<string> s_bootId = new(() =>
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    });

    /// <summary>The kernel's boot id; empty where there is none (then nothing is shared).</summary>
    public static string BootId => s_bootId.Value;
}
