using Terrarium.Protocol.LocalFiles;
using Terrarium.Protocol.Transport;

namespace Terrarium.Cli;

/// <summary>
/// The cluster token of this user, kept in <c>~/.config/terrarium/token</c> (0600 in a 0700 folder):
/// <c>terrarium start</c> generates it when none is given, and later commands on this machine read it.
/// </summary>
internal static class TokenStore
{
    public static string FilePath => Path.Combine(UserFolders.Config(), "token");

    /// <summary>
    /// The token given on the command line, else <c>TERRARIUM_TOKEN</c>, else the stored one (or
    /// null), with where it came from.
    /// </summary>
    public static (string Token, string Source)? Find(string? given)
    {
        var found = given is not null ? (given, "given with --token")
            : Environment.GetEnvironmentVariable(ClusterToken.EnvironmentVariable) is { } variable ? (variable, "from " + ClusterToken.EnvironmentVariable)
            : File.Exists(FilePath) ? (File.ReadAllText(FilePath).Trim(), "read from " + FilePath)
            : ((string Token, string Source)?)null;
        if (found is { Token.Length: < 16 } tooShort)
        {
            throw new UserError($"the cluster token ({tooShort.Source}) must be at least 16 characters");
        }

        return found;
    }

    /// <summary>Like <see cref="Find"/>, but generates and stores a token when there is none.</summary>
    public static (string Token, string Source) FindOrCreate(string? given)
    {
        if (Find(given) is { } found)
        {
            return found;
        }

        var token = ClusterToken.NewToken();
        PrivateDirectory.Create(Path.GetDirectoryName(FilePath)!);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = PrivateDirectory.OwnerReadWrite;
        }

        using (var writer = new StreamWriter(new FileStream(FilePath, options)))
        {
            writer.WriteLine(token);
        }

        return (token, "generated and stored in " + FilePath);
    }
}
