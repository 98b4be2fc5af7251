using Terrarium.Protocol.RuntimeEnvs.Fields;

namespace Terrarium.Protocol.RuntimeEnvs;

/// <summary>The effective env: a more specific env overrides its base field by field, as each field merges.</summary>
internal static class RuntimeEnvMerge
{
    public static RuntimeEnv? Merge(RuntimeEnv? baseEnv, RuntimeEnv? specific)
    {
        if (specific is null)
        {
            return baseEnv;
        }

        if (baseEnv is null)
        {
            return specific;
        }

        var merged = new RuntimeEnv();
        foreach (var field in EnvFields.All)
        {
            merged = field.Merge(merged, baseEnv, specific);
        }

        return merged;
    }
}
