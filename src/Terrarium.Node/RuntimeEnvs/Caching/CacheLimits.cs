namespace Terrarium.Node.RuntimeEnvs.Caching;

/// <summary>
/// How many bytes each kind of cached resource may take on a node before unused ones are deleted,
/// least recently used first; read from <c>working_dir=10GB,nuget=20GB</c>.
/// </summary>
public static class CacheLimits
{
    /// <summary>Each kind's limit unless one is given: 10 GB, as Ray's.</summary>
    public const long DefaultBytes = 10_000_000_000;

    /// <summary>The environment variable a node reads its limits from when none are given otherwise.</summary>
    public const string EnvironmentVariable = "TERRARIUM_CACHE_LIMIT";

    /// <summary>The kinds of cached resource that have a limit.</summary>
    public static IReadOnlyList<string> Kinds => CachedResource.Kinds;

    /// <summary>Reads <c>KIND=SIZE,…</c>: a size is bytes, or a number with KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB.</summary>
    /// <exception cref="ArgumentException">Says which part is wrong and what is expected.</exception>
    public static IReadOnlyDictionary<string, long> Parse(string text)
    {
        var limits = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            var kind = equals < 0 ? part : part[..equals].Trim();
            if (equals < 0 || !Kinds.Contains(kind))
            {
                throw new ArgumentException($"cache limit '{part}' must be KIND=SIZE with KIND one of {string.Join(", ", Kinds)} (such as working_dir=10GB)");
            }

            if (!limits.TryAdd(kind, Size(part[(equals + 1)..], part)))
            {
                throw new ArgumentException($"cache limit of '{kind}' is given twice");
            }
        }

        return limits;
    }

    /// <summary>The limits <see cref="EnvironmentVariable"/> gives; none when it is not set.</summary>
    /// <exception cref="ArgumentException">It does not read; the message names the variable.</exception>
    public static IReadOnlyDictionary<string, long> FromEnvironment()
    {
        try
        {
            return Parse(Environment.GetEnvironmentVariable(EnvironmentVariable) ?? "");
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{EnvironmentVariable}: {e.Message}", e);
        }
    }

    /// <summary>The limit of <paramref name="kind"/> among <paramref name="limits"/>, else the default.</summary>
    public static long Of(IReadOnlyDictionary<string, long> limits, string kind) => limits.GetValueOrDefault(kind, DefaultBytes);

    private static long Size(string text, string part)
    {
        try
        {
            return Protocol.Sizes.Parse(text);
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"cache limit '{part}': {e.Message}", e);
        }
    }
}
