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

    private static void Need(bool present, string reason)
    {
        if (!present && RequireAll)
        {
            throw new InvalidOperationException($"TERRARIUM_REQUIRE_ALL=1, but this test cannot run: {reason}");
        }

        Skip.IfNot(present, reason);
    }
}
