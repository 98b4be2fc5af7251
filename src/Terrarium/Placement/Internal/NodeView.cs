using Terrarium.Protocol;

namespace Terrarium.Placement;

/// <summary>
/// What a driver knows of one live node when it places work: its resources as the head last heard
/// them (nodes report every second), and the CPUs this driver itself has sent there and not yet got
/// back (which the head's figures may not show yet).
/// </summary>
internal sealed record NodeView(string NodeId, string Address, IReadOnlyDictionary<string, double> Total, IReadOnlyDictionary<string, double> Available)
{
    public const string Cpu = "CPU";

    /// <summary>CPUs of this driver's work sent to the node and not finished.</summary>
    public double InFlightCpus { get; init; }

    /// <summary>Whether the node could ever run the demand: its totals cover it.</summary>
    public bool CanEverFit(ResourceRequest demand) => Covers(Total, demand, 0);

    /// <summary>Whether the node has the demand free now, as far as this driver can tell.</summary>
    public bool HasFree(ResourceRequest demand) => Covers(Available, demand, Math.Max(0, InFlightCpus - UsedCpus));

    /// <summary>
    /// The node's CPU load: the share of its CPUs in use, above 1 when work queues there (so that
    /// queued work spreads too); infinite for a node without CPUs.
    /// </summary>
    public double Utilization
    {
        get
        {
            var total = Total.GetValueOrDefault(Cpu);
            return total <= 0 ? double.PositiveInfinity : Math.Max(0, Math.Max(UsedCpus, InFlightCpus)) / total;
        }
    }

    private double UsedCpus => Total.GetValueOrDefault(Cpu) - Available.GetValueOrDefault(Cpu, Total.GetValueOrDefault(Cpu));

    private static bool Covers(IReadOnlyDictionary<string, double> amounts, ResourceRequest demand, double cpusTakenMeanwhile) =>
        demand.NumCpus <= amounts.GetValueOrDefault(Cpu) - cpusTakenMeanwhile &&
        demand.Custom.All(kv => kv.Value <= amounts.GetValueOrDefault(kv.Key));
}
