using Terrarium.Protocol.RuntimeEnvs.Fields;

namespace Terrarium.Protocol.RuntimeEnvs;

/// <summary>Checks an env completely before anything is uploaded or run: each field checks its own value.</summary>
internal static class RuntimeEnvValidator
{
    /// <exception cref="ArgumentException">Names the field and value that are wrong.</exception>
    public static void Validate(RuntimeEnv env, string paramName)
    {
        foreach (var field in EnvFields.All)
        {
            field.Validate(env, paramName);
        }
    }
}
