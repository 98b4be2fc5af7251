using System.Collections.Concurrent;
using System.Globalization;
using Spectre.Console;
using Terrarium.Protocol;

namespace Terrarium.Logging;

/// <summary>
/// The setup of the driver's envs, live on a terminal: a line per step and node with a spinner and
/// the time it has taken, ticked off or marked failed as nodes report. Shown on standard error while
/// setups run, so that the program's own output stays clean; the lines of finished steps stay.
/// Every Spectre call happens on the display's own loop: nodes' reports only queue.
/// </summary>
internal sealed class EnvSetupProgressDisplay(IAnsiConsole console)
{
    private static readonly TimeSpan Refresh = TimeSpan.FromMilliseconds(100);

    // How long the display lingers with nothing running, in case the next step follows at once.
    private static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(300);

    private readonly ConcurrentQueue<EnvSetupProgress> _reports = new();

    // Guards the display's life: whether one shows, the task that shows it, and whether it may show again.
    private readonly Lock _gate = new();
    private bool _showing;
    private bool _over;
    private Task _shown = Task.CompletedTask;

    /// <summary>A display on standard error when <paramref name="show"/> says so, or when it is null and standard error is an interactive terminal; else null.</summary>
    public static EnvSetupProgressDisplay? Create(bool? show)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return show ?? (!Console.IsErrorRedirected && console.Profile.Capabilities.Interactive)
            ? new EnvSetupProgressDisplay(console)
            : null;
    }

    public void Report(EnvSetupProgress report)
    {
        lock (_gate)
        {
            if (_over)
            {
                return;
            }

            _reports.Enqueue(report);
            StartUnlessShowing();
        }
    }

    /// <summary>
    /// The driver is done: what was reported is shown, the display ends, and its lines stay. Waited
    /// for, so that a program that ends right after its last result still leaves the display whole.
    /// </summary>
    public async Task StopAsync()
    {
        Task shown;
        lock (_gate)
        {
            _over = true;
            shown = _shown;
        }

        await shown.ConfigureAwait(false);
    }

    /// <summary>Under the gate.</summary>
    private void StartUnlessShowing()
    {
        if (!_showing)
        {
            _showing = true;
            _shown = Task.Run(ShowAsync);
        }
    }

    private async Task ShowAsync()
    {
        try
        {
            await console.Progress()
                .AutoClear(false)
                .Columns(new SpinnerColumn(), new TaskDescriptionColumn { Alignment = Justify.Left }, new ElapsedTimeColumn())
                .StartAsync(async context =>
                {
                    var steps = new Dictionary<string, ProgressTask>(StringComparer.Ordinal);
                    var idleSince = DateTime.UtcNow;
                    while (true)
                    {
                        while (_reports.TryDequeue(out var report))
                        {
                            Apply(context, steps, report);
                            idleSince = DateTime.UtcNow;
                        }

                        if (Volatile.Read(ref _over) || (steps.Values.All(s => s.IsFinished) && DateTime.UtcNow - idleSince > Linger))
                        {
                            context.Refresh();
                            return;
                        }

                        context.Refresh();
                        await Task.Delay(Refresh).ConfigureAwait(false);
                    }
                }).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The terminal went away, another live display holds it, or Spectre failed otherwise: a
            // display is no reason to fail the driver. Shown no more; the logger still has every step.
            lock (_gate)
            {
                _over = true;
            }
        }
        finally
        {
            lock (_gate)
            {
                _showing = false;
                // Reports that came as it ended: shown anew.
                if (!_reports.IsEmpty && !_over)
                {
                    StartUnlessShowing();
                }
            }
        }
    }

    private static void Apply(ProgressContext context, Dictionary<string, ProgressTask> steps, EnvSetupProgress report)
    {
        var env = EnvSetupReporter.Shown(report.EnvHash);
        var what = Markup.Escape($"env {env} on {report.NodeId}: {report.Field}");
        var key = $"{report.EnvHash}/{report.NodeId}/{report.Field}";
        switch (report.Stage)
        {
            case EnvSetupStage.EnvSetupStarted:
                steps[key] = context.AddTask(what + "…", maxValue: 1).IsIndeterminate();
                break;
            case EnvSetupStage.EnvSetupFinished when steps.TryGetValue(key, out var step):
                Finish(step, $"[green]{what}[/] done in {Seconds(report.Seconds)}");
                break;
            case EnvSetupStage.EnvSetupFailed:
                Finish(steps.GetValueOrDefault(key) ?? (steps[key] = context.AddTask(what, maxValue: 1)),
                    $"[red]{what} failed[/] after {Seconds(report.Seconds)} (its log: terrarium env logs {env})");
                break;
            case EnvSetupStage.EnvSetupReady:
                // Whatever the node did not report finished is, now that the env is.
                foreach (var (_, open) in steps.Where(s => s.Key.StartsWith($"{report.EnvHash}/{report.NodeId}/", StringComparison.Ordinal) && !s.Value.IsFinished))
                {
                    Finish(open, open.Description.TrimEnd('…'));
                }

                break;
        }
    }

    private static void Finish(ProgressTask step, string description)
    {
        step.Description = description;
        step.IsIndeterminate = false;
        step.Value = step.MaxValue;
        step.StopTask();
    }

    private static string Seconds(double seconds) => seconds.ToString("0.00 s", CultureInfo.InvariantCulture);
}
