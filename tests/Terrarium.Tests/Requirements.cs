using Terrarium.Protocol.LocalFiles;

namespace Terrarium.Tests;

/// <summary>
/// What a test needs from the machine. Missing, the test is skipped with the reason on a
/// developer's machine, and fails under <c>TERRARIUM_REQUIRE_ALL=1</c> (CI), where nothing may be skipped.
/// </summary>
public static class Requirements
{
    private static bool RequireAll => Environment.GetEnvironmentVariable("TERRARIUM_REQUIRE_ALL") == "1";

    /// <summary>Tests that play another local user need root to create that user's files and processes.</summary>
    public static void Root() => Need(PrivateDirectory.CurrentUserId == 0, "it plays another local user, which needs root");

    /// <summary>Tests of the shared-memory object store need a tmpfs at /dev/shm large enough for one.</summary>
    public static void SharedMemory() =>
        Need(Directory.Exists("/dev/shm") && File.ReadLines("/proc/self/mounts").Any(l => l.Split(' ') is [_, "/dev/shm", "tmpfs", ..]),
            "it needs a tmpfs at /dev/shm");

    private static void Need(bool present, string reason)
    {
        if (!present && RequireAll)
        {
            throw new InvalidOperationException($"TERRARIUM_REQUIRE_ALL=1, but this test cannot run: {reason}");
        }

        Skip.IfNot(present, reason);
    }
}
