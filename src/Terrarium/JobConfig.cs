namespace Terrarium;

/// <summary>Settings of the job a driver runs.</summary>
public sealed class JobConfig
{
    /// <summary>The default runtime env of every task and actor of the job. Default: none.</summary>
    public RuntimeEnv? RuntimeEnv { get; init; }
}
