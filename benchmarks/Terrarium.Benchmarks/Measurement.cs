using System.Diagnostics;

namespace Terrarium.Benchmarks;

/// <summary>One figure: mean and spread over the timed rounds.</summary>
public sealed record Measurement(string Name, double Value, double StdDev, string Unit, string Description);

/// <summary>
/// Times a workload the way Ray's microbenchmarks do: repeat it for a warm-up period, then for
/// several timed rounds of a fixed duration each, and report the mean rate and its spread.
/// </summary>
public sealed class Harness(bool quick)
{
    // A quick run is shorter in its timed rounds only: its warm-ups are a full run's, so that both
    // measure the same steady state (with shorter warm-ups, quick figures were 10-50% lower).
    private readonly int _rounds = quick ? 2 : 4;
    private readonly TimeSpan _warmUp = TimeSpan.FromSeconds(2);
    private readonly TimeSpan _roundLength = TimeSpan.FromSeconds(quick ? 1 : 2);

    public bool Quick { get; } = quick;

    /// <summary>
    /// How long a new worker process runs before it is measured: .NET re-compiles hot code,
    /// optimized, in the background during its first seconds (tiered JIT), which on 2 cores takes
    /// several seconds and would otherwise be charged to whichever metric runs first.
    /// </summary>
    public TimeSpan RuntimeWarmUp { get; } = TimeSpan.FromSeconds(8);

    public List<Measurement> Results { get; } = [];

    /// <summary>Groups that failed, and why: reported beside the figures of the others.</summary>
    public List<(string Group, string Reason)> Failures { get; } = [];

    /// <summary>
    /// Runs one group of benchmarks; if it throws, its failure is recorded (and printed) and the
    /// next group runs: a machine where one group cannot run still measures the rest.
    /// </summary>
    public async Task GroupAsync(string group, string title, Func<Task> body)
    {
        Console.Error.WriteLine(title);
        try
        {
            await body();
        }
        catch (Exception e)
        {
            var reason = $"{e.GetType().Name}: {e.Message.Split('\n')[0]}";
            Failures.Add((group, reason));
            Console.Error.WriteLine($"  {group} FAILED: {reason}");
        }
    }

    /// <summary>Repeats <paramref name="body"/> (which performs <paramref name="operations"/> operations) and records operations per second.</summary>
    public async Task RateAsync(string name, string description, int operations, Func<Task> body)
    {
        await RepeatForAsync(_warmUp, body);
        var rates = new List<double>();
        for (var i = 0; i < _rounds; i++)
        {
            var (repetitions, elapsed) = await RepeatForAsync(_roundLength, body);
            rates.Add(operations * repetitions / elapsed.TotalSeconds);
        }

        Record(name, description, rates, "/s");
    }

    /// <summary>
    /// As <see cref="RateAsync"/> for two workloads whose rounds alternate (A, B, A, B, …), so that a
    /// drift of the machine during the run falls on both alike: an A/B comparison in one run.
    /// </summary>
    public async Task InterleavedRatesAsync(int operations, (string Name, string Description, Func<Task> Body) a, (string Name, string Description, Func<Task> Body) b)
    {
        await RepeatForAsync(_warmUp, a.Body);
        await RepeatForAsync(_warmUp, b.Body);
        var (ratesA, ratesB) = (new List<double>(), new List<double>());
        for (var i = 0; i < _rounds * 2; i++)
        {
            var (repetitionsA, elapsedA) = await RepeatForAsync(_roundLength, a.Body);
            ratesA.Add(operations * repetitionsA / elapsedA.TotalSeconds);
            var (repetitionsB, elapsedB) = await RepeatForAsync(_roundLength, b.Body);
            ratesB.Add(operations * repetitionsB / elapsedB.TotalSeconds);
        }

        Record(a.Name, a.Description, ratesA, "/s");
        Record(b.Name, b.Description, ratesB, "/s");
    }

    /// <summary>Records the rate of one run of <paramref name="body"/>, without warm-up: what a fresh process sees.</summary>
    public async Task ColdRateAsync(string name, string description, int operations, Func<Task> body)
    {
        var watch = Stopwatch.StartNew();
        await body();
        Record(name, description, [operations / watch.Elapsed.TotalSeconds], "/s");
    }

    private static async Task<(int Repetitions, TimeSpan Elapsed)> RepeatForAsync(TimeSpan length, Func<Task> body)
    {
        var watch = Stopwatch.StartNew();
        var repetitions = 0;
        do
        {
            await body();
            repetitions++;
        }
        while (watch.Elapsed < length);

        return (repetitions, watch.Elapsed);
    }

    /// <summary>Records a latency (milliseconds) per sample.</summary>
    public async Task LatencyAsync(string name, string description, int samples, Func<Task<TimeSpan>> sample)
    {
        var values = new List<double>();
        for (var i = 0; i < samples; i++)
        {
            values.Add((await sample()).TotalMilliseconds);
        }

        Record(name, description, values, "ms");
    }

    public void Ratio(string name, string description, string numerator, string denominator)
    {
        var top = Results.FirstOrDefault(r => r.Name == numerator);
        var bottom = Results.FirstOrDefault(r => r.Name == denominator);
        if (top is not null && bottom is not null && bottom.Value > 0)
        {
            Results.Add(new Measurement(name, top.Value / bottom.Value, 0, "x", description));
        }
    }

    private void Record(string name, string description, List<double> values, string unit)
    {
        var mean = values.Average();
        var spread = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / values.Count);
        Results.Add(new Measurement(name, mean, spread, unit, description));
        Console.Error.WriteLine($"  {name}: {mean:N1} {unit} ± {spread:N1}");
    }
}
