using Spectre.Console;
using Terrarium.Protocol;

namespace Terrarium.Cli;

/// <summary>The head's package store as <c>terrarium env list</c> shows it: each package, the jobs that use it, its last use.</summary>
internal static class PackageReport
{
    public static object Json(ListPackagesReply packages) => new
    {
        size = packages.Packages.Sum(p => p.Size),
        limit = packages.Limit,
        archives = packages.Packages.OrderBy(p => p.Hash, StringComparer.Ordinal).Select(p => new
        {
            hash = p.Hash,
            size = p.Size,
            state = State(p),
            jobs = p.Jobs,
            @protected = p.Protected,
            last_used = DateTimeOffset.FromUnixTimeMilliseconds(p.LastUsedUnixMs),
        }),
    };

    public static Table Table(ListPackagesReply packages)
    {
        var table = new Table()
            .Title("Packages in the head's store")
            .Caption(Markup.Escape($"{Sizes.Format(packages.Packages.Sum(p => p.Size))} of {Sizes.Format(packages.Limit)}"));
        foreach (var column in new[] { "Package", "Size", "State", "Jobs", "Last used" })
        {
            table.AddColumn(new TableColumn(column).NoWrap());
        }

        foreach (var package in packages.Packages.OrderBy(p => p.Hash, StringComparer.Ordinal))
        {
            table.AddRow(package.Hash[..12], Sizes.Format(package.Size), State(package) == "in use" ? "[green]in use[/]" : State(package),
                Markup.Escape(string.Join(", ", package.Jobs)), EnvCommand.When(package.LastUsedUnixMs));
        }

        return table;
    }

    /// <summary>In use by a job (running, or ended with detached actors alive); protected (used within the window); or unused, which collection may delete.</summary>
    private static string State(PackageInfo package) => package.Jobs.Count > 0 ? "in use" : package.Protected ? "protected" : "unused";
}
