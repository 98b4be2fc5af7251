using Terrarium.Protocol;

namespace Terrarium.Node.RuntimeEnvs;

/// <summary>A runtime environment could not be built; carries what the user sees.</summary>
internal sealed class RuntimeEnvSetupFailure(string field, string message, string log) : Exception(message)
{
    /// <summary>The runtime-env field whose setup failed (<c>env_vars</c>, <c>nuget</c>, ...).</summary>
    public string Field { get; } = field;

    /// <summary>The setup output, for diagnosis.</summary>
    public string Log { get; } = log;

    /// <summary>The error the work that waited for the env fails with (<c>RuntimeEnvSetupException</c> in the client).</summary>
    public TaskError ToTaskError() => new() { Kind = ErrorKind.RuntimeEnvSetup, Message = Message, SetupField = Field, SetupLog = Log };
}
