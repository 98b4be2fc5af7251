using Terrarium.Protocol.RuntimeEnvs;

namespace Terrarium.Packaging;

/// <summary>An effective runtime env ready to send: its canonical JSON and hash.</summary>
internal sealed record ResolvedEnv(RuntimeEnv? Env, string CanonicalJson, string Hash)
{
    public static ResolvedEnv None { get; } = new(null, "{}", "");

    public static ResolvedEnv From(RuntimeEnv? env)
    {
        if (env is null || env.IsEmpty)
        {
            return None;
        }

        var json = env.ToJson();
        return new ResolvedEnv(env, json, RuntimeEnvWriter.Hash(json));
    }
}
