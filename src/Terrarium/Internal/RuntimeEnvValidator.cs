namespace Terrarium.Internal;

/// <summary>Checks an env completely before anything is uploaded or run.</summary>
internal static class RuntimeEnvValidator
{
    private const string ReservedPrefix = "TERRARIUM_";

    /// <exception cref="ArgumentException">Names the field and value that are wrong.</exception>
    public static void Validate(RuntimeEnv env, string paramName)
    {
        if (env.WorkingDir is { } workingDir && string.IsNullOrWhiteSpace(workingDir))
        {
            throw new ArgumentException("runtime_env.working_dir must not be blank", paramName);
        }

        CheckEntries("modules", env.Modules, paramName);
        CheckEntries("excludes", env.Excludes, paramName);
        if (env.NuGet is { } nuget)
        {
            NuGetSpecValidator.Validate(nuget, paramName);
        }
        RefuseUnsupported("pip", env.Pip, paramName);
        RefuseUnsupported("conda", env.Conda, paramName);
        if (env.Container is { } container)
        {
            CheckContainer(container, paramName);
        }

        foreach (var (name, value) in env.EnvVars ?? new Dictionary<string, string>())
        {
            if (name.Length == 0 || name.Contains('=', StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal))
            {
                throw new ArgumentException($"runtime_env.env_vars has an invalid variable name '{name}': names must be non-empty and contain no '=' or NUL", paramName);
            }

            if (name.StartsWith(ReservedPrefix, StringComparison.OrdinalIgnoreCase))
            {
                throw new ArgumentException($"runtime_env.env_vars.{name}: names starting with {ReservedPrefix} are reserved for Terrarium", paramName);
            }

            if (value is null || value.Contains('\0', StringComparison.Ordinal))
            {
                throw new ArgumentException($"runtime_env.env_vars.{name} must be a string without NUL characters", paramName);
            }
        }

        if (env.Config is { } config)
        {
            try
            {
                RuntimeEnvConfig.CheckTimeout(config.SetupTimeoutSeconds, "runtime_env.config.setup_timeout_seconds");
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException(e.Message, paramName, e);
            }
        }

        CheckScheme("working_dir", env.WorkingDir, paramName);
        foreach (var module in env.Modules ?? [])
        {
            CheckScheme("modules", module, paramName);
        }
    }

    private static readonly string[] s_schemes = ["https", "file", "pkg"];

    /// <summary>
    /// A URI whose scheme Terrarium does not fetch (<c>s3://</c>, <c>gs://</c>, ...) is refused by name;
    /// taken for a local path it would fail with a confusing "…/s3:/bucket does not exist".
    /// </summary>
    private static void CheckScheme(string field, string? value, string paramName)
    {
        var end = value?.IndexOf("://", StringComparison.Ordinal) ?? -1;
        if (end <= 0 || value![..end].Any(c => !char.IsAsciiLetterOrDigit(c) && c is not ('+' or '-' or '.')))
        {
            return;
        }

        var scheme = value[..end].ToLowerInvariant();
        if (scheme == "http")
        {
            throw new ArgumentException($"runtime_env.{field} '{value}': use https:// (plain http is refused)", paramName);
        }

        if (!s_schemes.Contains(scheme))
        {
            throw new ArgumentException(
                $"runtime_env.{field} '{value}' uses the scheme '{scheme}://', which Terrarium does not fetch; " +
                "use a local path, an https:// or file:// URI of a zip, or a pkg:// content URI", paramName);
        }
    }

    private static void CheckContainer(ContainerSpec container, string paramName)
    {
        if (string.IsNullOrWhiteSpace(container.Image) || container.Image.StartsWith('-') || container.Image.Any(c => char.IsWhiteSpace(c) || c == '\0'))
        {
            throw new ArgumentException($"runtime_env.container.image '{container.Image}' is not an image reference (such as 'localhost/app:1' or 'docker.io/library/debian:12')", paramName);
        }

        if (container.RunOptions is null)
        {
            throw new ArgumentException("runtime_env.container.run_options must be a list of strings, not null", paramName);
        }

        if (Node.ContainerRuntimeOptions.RefusalOf(container.RunOptions) is { } refusal)
        {
            throw new ArgumentException($"runtime_env.container.{refusal}", paramName);
        }
    }

    private static void CheckEntries(string field, IReadOnlyList<string>? values, string paramName)
    {
        for (var i = 0; i < (values?.Count ?? 0); i++)
        {
            if (string.IsNullOrWhiteSpace(values![i]))
            {
                throw new ArgumentException($"runtime_env.{field}[{i}] must not be blank", paramName);
            }
        }
    }

    private static void RefuseUnsupported(string field, object? value, string paramName)
    {
        if (value is not null)
        {
            throw new ArgumentException(
                $"runtime_env field '{field}' is not supported yet by this version of Terrarium; 'working_dir', 'modules', 'excludes', 'nuget', 'container', 'env_vars' and 'config' take effect",
                paramName);
        }
    }
}
