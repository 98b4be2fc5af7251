using Terrarium.Protocol;

namespace Terrarium.Node.Resources;

/// <summary>An amount of CPU and custom resources; immutable.</summary>
internal sealed class ResourceSet
{
    public const string Cpu = "CPU";

    private ResourceSet(Dictionary<string, double> amounts)
    {
        Amounts = amounts;
        Key = amounts.Count == 0 ? "{}" : string.Join(", ", amounts.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}"));
    }

    private const int MaxCachedCpuAmounts = 64;
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<double, ResourceSet> s_cpuOnly = new();

    public static ResourceSet Empty { get; } = new([]);

    public IReadOnlyDictionary<string, double> Amounts { get; }

    /// <summary>Equal for equal amounts: identifies a demand shape.</summary>
    public string Key { get; }

    public static ResourceSet From(ResourceRequest? request)
    {
        if (request is null)
        {
            return Empty;
        }

        if (request.Custom.Count == 0)
        {
            // Nearly every request: a number of CPUs. Built once per amount, not once per task (and
            // a client sending endless distinct amounts cannot grow the cache without bound).
            return s_cpuOnly.TryGetValue(request.NumCpus, out var known) ? known
                : s_cpuOnly.Count < MaxCachedCpuAmounts ? s_cpuOnly.GetOrAdd(request.NumCpus, CpuOnly)
                : CpuOnly(request.NumCpus);
        }

        var amounts = new Dictionary<string, double>(StringComparer.Ordinal);

        if (request.NumCpus > 0)
        {
            amounts[Cpu] = request.NumCpus;
        }

        foreach (var (name, amount) in request.Custom)
        {
            if (amount > 0)
            {
                amounts[name] = amount;
            }
        }

        return new ResourceSet(amounts);
    }

    private static ResourceSet CpuOnly(double cpus) =>
        new(cpus > 0 ? new Dictionary<string, double>(StringComparer.Ordinal) { [Cpu] = cpus } : []);

    public static ResourceSet From(IReadOnlyDictionary<string, double> amounts) => new(new Dictionary<string, double>(amounts));

    /// <summary>What in this demand exceeds <paramref name="total"/>, for an error message; null when it fits.</summary>
    public string? ExceedsTotal(IReadOnlyDictionary<string, double> total)
    {
        foreach (var (name, amount) in Amounts)
        {
            var have = total.GetValueOrDefault(name);
            if (amount > have)
            {
                return $"needs {amount} {name} but the node has {have} in total";
            }
        }

        return null;
    }

    public override string ToString() => Key;
}
