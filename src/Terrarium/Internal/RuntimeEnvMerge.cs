namespace Terrarium.Internal;

/// <summary>The effective env: a more specific env overrides its base field by field; env_vars merge key by key.</summary>
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

        Dictionary<string, string>? envVars = null;
        if (baseEnv.EnvVars is not null || specific.EnvVars is not null)
        {
            envVars = new Dictionary<string, string>(baseEnv.EnvVars ?? new Dictionary<string, string>(), StringComparer.Ordinal);
            foreach (var (name, value) in specific.EnvVars ?? new Dictionary<string, string>())
            {
                envVars[name] = value;
            }
        }

        return new RuntimeEnv
        {
            WorkingDir = specific.WorkingDir ?? baseEnv.WorkingDir,
            // An empty list is "not set", as in the env's JSON: the base's applies.
            Modules = specific.Modules is { Count: > 0 } ? specific.Modules : baseEnv.Modules,
            Excludes = specific.Excludes is { Count: > 0 } ? specific.Excludes : baseEnv.Excludes,
            NuGet = specific.NuGet ?? baseEnv.NuGet,
            Pip = specific.Pip ?? baseEnv.Pip,
            Conda = specific.Conda ?? baseEnv.Conda,
            Container = specific.Container ?? baseEnv.Container,
            EnvVars = envVars,
            Config = specific.Config ?? baseEnv.Config,
        };
    }
}
