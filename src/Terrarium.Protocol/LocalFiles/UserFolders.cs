namespace Terrarium.Protocol.LocalFiles;

/// <summary>This user's folders that outlive a cluster.</summary>
public static class UserFolders
{
    /// <summary>
    /// This user's Terrarium settings: <c>terrarium</c> under <c>$XDG_CONFIG_HOME</c> or
    /// <c>~/.config</c>. It holds the cluster token and the cluster CA that <c>terrarium start --head</c>
    /// makes, so it is kept private (0700).
    /// </summary>
    public static string Config() => Path.Combine(
        Environment.GetEnvironmentVariable("XDG_CONFIG_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config"),
        "terrarium");

    /// <summary>
    /// Where nodes cache packages and environments across runs: <c>TERRARIUM_CACHE_DIR</c>, else
    /// <c>terrarium</c> under <c>$XDG_CACHE_HOME</c> or <c>~/.cache</c>.
    /// </summary>
    public static string Cache() =>
        Environment.GetEnvironmentVariable("TERRARIUM_CACHE_DIR")
        ?? Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "terrarium");
}
