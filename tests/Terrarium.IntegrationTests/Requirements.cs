namespace Terrarium.IntegrationTests;

/// <summary>
/// What a test needs from the machine. Missing, the test is skipped with the reason on a
/// developer's machine, and fails under <c>TERRARIUM_REQUIRE_ALL=1</c> (CI), where nothing may be skipped.
/// </summary>
public static class Requirements
{
    private static bool RequireAll => Environment.GetEnvironmentVariable("TERRARIUM_REQUIRE_ALL") == "1";

    /// <summary>A command on PATH.</summary>
    public static void Tool(string command, string why) => Need(
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, command))),
        $"'{command}' is not installed, and {why}");

    /// <summary>Running as root (rootful podman).</summary>
    public static void Root() => Need(Protocol.LocalFiles.PrivateDirectory.CurrentUserId == 0, "it runs rootful podman containers, which needs root");

    /// <summary>Anything else the machine must have or do; <paramref name="reason"/> says what and why.</summary>
    public static void That(bool present, string reason) => Need(present, reason);

    private static void Need(bool present, string reason)
    {
        if (!present && RequireAll)
        {
            throw new InvalidOperationException($"TERRARIUM_REQUIRE_ALL=1, but this test cannot run: {reason}");
        }

        Skip.IfNot(present, reason);
    }
}
