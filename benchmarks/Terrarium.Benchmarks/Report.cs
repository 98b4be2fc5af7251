using System.Text.Json;
using Spectre.Console;

namespace Terrarium.Benchmarks;

/// <summary>Prints the figures beside Ray's published ones and the goals, and writes them as JSON.</summary>
public static class Report
{
    // Ray 2.48 release microbenchmarks, 64 vCPUs.
    private static readonly Dictionary<string, double> s_ray = new()
    {
        ["single_client_tasks_sync"] = 981,
        ["single_client_tasks_async"] = 8041,
        ["1_1_actor_calls_sync"] = 2012,
        ["1_1_actor_calls_async"] = 8664,
        ["n_n_actor_calls_async"] = 27376,
    };

    // Goals on a 2-core machine (reported, never asserted).
    private static readonly Dictionary<string, string> s_goals = new()
    {
        ["single_client_tasks_sync"] = ">= 3,500",
        ["single_client_tasks_async"] = ">= 30,000",
        ["1_1_actor_calls_sync"] = ">= 5,000",
        ["1_1_actor_calls_async"] = ">= 30,000",
        ["env_vars_tasks_ratio"] = ">= 0.95",
        ["worker_start_ratio"] = "<= 1.5",
        ["actor_sync_vs_orleans"] = ">= 1",
        ["actor_async_vs_orleans"] = ">= 1",
        ["nuget_first_result_packages_cached"] = "< 1,500",
        ["actor_sync_vs_raw_uds"] = ">= 0.5",
        ["working_set_growth_ratio"] = "<= 1.1",
        ["cluster_object_vs_loopback"] = ">= 0.5",
    };

    public static void Print(IReadOnlyList<Measurement> results, IReadOnlyList<(string Group, string Reason)> failures)
    {
        // Redirected output defaults to 80 columns, which wraps the metric names.
        AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 150);
        var table = new Table().AddColumns("metric", "Terrarium", "±", "unit", "Ray 2.48 (64 vCPU)", "goal (2 cores)");
        foreach (var m in results)
        {
            table.AddRow(
                Markup.Escape(m.Name),
                m.Value.ToString(m.Unit is "x" ? "N2" : "N1"),
                m.StdDev == 0 ? "" : m.StdDev.ToString("N1"),
                m.Unit,
                s_ray.TryGetValue(m.Name, out var ray) ? ray.ToString("N0") : "",
                s_goals.GetValueOrDefault(m.Name, ""));
        }

        foreach (var (group, reason) in failures)
        {
            table.AddRow($"[red]{Markup.Escape(group)} (group failed)[/]", "[red]failed[/]", "", "", "", Markup.Escape(reason));
        }

        AnsiConsole.Write(table);
    }

    public static string Write(IReadOnlyList<Measurement> results, IReadOnlyList<(string Group, string Reason)> failures, bool quick, string? path = null)
    {
        path = Path.GetFullPath(path ?? Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "results", "latest.json"));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var document = new
        {
            machine = new { cores = Environment.ProcessorCount, os = System.Runtime.InteropServices.RuntimeInformation.OSDescription, dotnet = Environment.Version.ToString() },
            quick,
            taken = DateTimeOffset.UtcNow,
            metrics = results.ToDictionary(m => m.Name, m => new { value = Math.Round(m.Value, 3), stddev = Math.Round(m.StdDev, 3), unit = m.Unit, description = m.Description }),
            failed_groups = failures.GroupBy(f => f.Group).ToDictionary(g => g.Key, g => string.Join("; ", g.Select(f => f.Reason))),
        };
        File.WriteAllText(path, JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true }));
        return path;
    }
}
