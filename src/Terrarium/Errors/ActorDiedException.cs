namespace Terrarium;

/// <summary>A call went to an actor that is dead: killed, crashed past its restarts, or failed to start.</summary>
public sealed class ActorDiedException(string message, string? remoteType = null, string? remoteStackTrace = null) : TerrariumException(message)
{
    /// <summary>When the constructor threw: that exception's type.</summary>
    public string? RemoteType { get; } = remoteType;

    /// <summary>When the constructor threw: that exception's <c>ToString()</c> on the worker.</summary>
    public string? RemoteStackTrace { get; } = remoteStackTrace;

    /// <inheritdoc />
    public override string ToString() => RemoteStackTrace is null
        ? base.ToString()
        : $"{base.ToString()}{Environment.NewLine}--- remote ---{Environment.NewLine}{RemoteStackTrace}";
}
