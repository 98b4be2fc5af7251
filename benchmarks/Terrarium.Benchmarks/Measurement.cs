using System.Diagnostics;

namespace Terrarium.Benchmarks;

/// <summary>One figure: mean and spread over the timed rounds.</summary>
public sealed record Measurement(string Name, double Value, double StdDev, string Unit, string Description);

/// <summary>Times a workload the way Ray's microbenchmarks do: warm-up, then several timed rounds.</summary>
public sealed class Harness(int rounds, bool quick)
{
    public bool Quick { get; } = quick;

    public List<Measurement> Results { get; } = [];

    /// <summary>Runs <paramref name="round"/> (which performs <paramref name="operations"/> operations) and records operations per second.</summary>
    public async Task RateAsync(string name, string description, int operations, Func<Task> round)
    {
        await round();
        var rates = new List<double>();
        for (var i = 0; i < rounds; i++)
        {
            var watch = Stopwatch.StartNew();
            await round();
            rates.Add(operations / watch.Elapsed.TotalSeconds);
        }

        Record(name, description, rates, "/s");
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
