namespace Terrarium.Node.Resources;

/// <summary>
/// The node's free resources. Blocked workers lend theirs back, so the available amount may dip
/// below zero when they resume; nothing new is granted until it recovers.
/// </summary>
internal sealed class ResourceLedger
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, double> _available;

    public ResourceLedger(IReadOnlyDictionary<string, double> total)
    {
        Total = new Dictionary<string, double>(total);
        _available = new Dictionary<string, double>(total);
    }

    /// <summary>Raised (outside the lock) whenever resources are returned.</summary>
    public event Action? Released;

    public Dictionary<string, double> Total { get; }

    public Dictionary<string, double> Snapshot()
    {
        lock (_lock)
        {
            return new Dictionary<string, double>(_available);
        }
    }

    public bool TryAcquire(ResourceSet demand)
    {
        lock (_lock)
        {
            if (!Fits(demand))
            {
                return false;
            }

            Subtract(demand);
            return true;
        }
    }

    /// <summary>Whether <paramref name="demand"/> would fit now, without taking it.</summary>
    public bool CanAcquire(ResourceSet demand)
    {
        lock (_lock)
        {
            return Fits(demand);
        }
    }

    /// <summary>Takes resources back even if that overdraws (a blocked worker resuming).</summary>
    public void ForceAcquire(ResourceSet demand)
    {
        lock (_lock)
        {
            Subtract(demand);
        }
    }

    public void Release(ResourceSet amount)
    {
        if (amount.Amounts.Count == 0)
        {
            Released?.Invoke();
            return;
        }

        lock (_lock)
        {
            foreach (var (name, value) in amount.Amounts)
            {
                _available[name] = _available.GetValueOrDefault(name) + value;
            }
        }

        Released?.Invoke();
    }

    private bool Fits(ResourceSet demand) => demand.Amounts.All(kv => _available.GetValueOrDefault(kv.Key) >= kv.Value - 1e-9);

    private void Subtract(ResourceSet demand)
    {
        foreach (var (name, amount) in demand.Amounts)
        {
            _available[name] = _available.GetValueOrDefault(name) - amount;
        }
    }
}
