namespace Terrarium.Protocol.Jobs;

/// <summary>
/// What a node tells the driver it starts for a submitted job (<c>terrarium job submit</c>), in its
/// environment besides the cluster's address and token: which submission it is, and the job's
/// runtime env, the default of everything the driver runs.
/// </summary>
internal static class SubmittedJob
{
    public const string SubmissionIdVariable = "TERRARIUM_SUBMISSION_ID";

    public const string RuntimeEnvVariable = "TERRARIUM_JOB_RUNTIME_ENV";

    /// <summary>This process's submission id, if a node started it as a submitted job's driver; else empty.</summary>
    public static string SubmissionId => Environment.GetEnvironmentVariable(SubmissionIdVariable) ?? "";

    /// <summary>The submitted job's runtime env, for its driver; null for others, or a job submitted without one.</summary>
    public static RuntimeEnv? RuntimeEnv =>
        SubmissionId.Length > 0 && Environment.GetEnvironmentVariable(RuntimeEnvVariable) is { Length: > 0 } json ? Terrarium.RuntimeEnv.FromJson(json) : null;
}
