using MAB.DotIgnore;

namespace Terrarium.Packaging;

/// <summary>
/// What packaging leaves out, with gitignore semantics: built-in defaults (VCS metadata and build
/// leftovers), then the env's <c>excludes</c> (which may re-include with <c>!</c>), then any
/// <c>.gitignore</c> or <c>.terrariumignore</c> found in the tree, each relative to its directory.
/// </summary>
internal sealed class IgnoreRules
{
    public static readonly string[] Defaults = [".git/", ".hg/", ".svn/", ".vs/", ".idea/", "bin/", "obj/", "__pycache__/"];
    private static readonly string[] s_ignoreFiles = [".gitignore", ".terrariumignore"];

    private readonly IgnoreRules? _parent;
    private readonly string _prefix;
    private readonly IgnoreList? _rules;

    private IgnoreRules(IgnoreRules? parent, string prefix, IgnoreList? rules)
    {
        _parent = parent;
        _prefix = prefix;
        _rules = rules;
    }

    public static IgnoreRules ForRoot(IReadOnlyList<string> excludes) => new(null, "", new IgnoreList([.. Defaults, .. excludes]));

    /// <summary>The rules inside <paramref name="directory"/> (relative path with '/'), adding its ignore files.</summary>
    public IgnoreRules Enter(string directory, string relativeDirectory)
    {
        var lines = s_ignoreFiles
            .Select(name => Path.Combine(directory, name))
            .Where(File.Exists)
            .SelectMany(File.ReadAllLines)
            .Where(line => line.Trim().Length > 0 && !line.TrimStart().StartsWith('#'))
            .ToList();
        return lines.Count == 0 ? this : new IgnoreRules(this, relativeDirectory.Length == 0 ? "" : relativeDirectory + "/", new IgnoreList(lines));
    }

    public bool IsIgnored(string relativePath, bool isDirectory)
    {
        // Like git, the innermost file's rules are consulted first; the env's excludes apply at the root.
        for (var rules = this; rules is not null; rules = rules._parent)
        {
            if (rules._rules is not null && relativePath.StartsWith(rules._prefix, StringComparison.Ordinal) &&
                rules._rules.IsIgnored(relativePath[rules._prefix.Length..], isDirectory))
            {
                return true;
            }
        }

        return false;
    }
}
