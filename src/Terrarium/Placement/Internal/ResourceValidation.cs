namespace Terrarium.Placement;

internal static class ResourceValidation
{
    public static void Validate(IReadOnlyDictionary<string, double>? resources, string paramName)
    {
        foreach (var (name, amount) in resources ?? new Dictionary<string, double>())
        {
            if (string.IsNullOrWhiteSpace(name))
            {
                throw new ArgumentException("resource names must not be blank", paramName);
            }

            if (name == "CPU")
            {
                throw new ArgumentException("ask for CPUs with NumCpus, not a resource named 'CPU'", paramName);
            }

            if (amount < 0 || double.IsNaN(amount) || double.IsInfinity(amount))
            {
                throw new ArgumentException($"resource '{name}' = {amount}: amounts must be finite and zero or more", paramName);
            }
        }
    }
}
