namespace Terrarium;

/// <summary>User code of a task or actor call threw; carries the remote exception's type, message and stack.</summary>
public sealed class TaskFailedException : TerrariumException
{
    /// <summary>Creates the error.</summary>
    public TaskFailedException(string function, string remoteType, string remoteMessage, string remoteStackTrace)
        : base($"{function} failed: {remoteType}: {remoteMessage}")
    {
        Function = function;
        RemoteType = remoteType;
        RemoteMessage = remoteMessage;
        RemoteStackTrace = remoteStackTrace;
    }

    /// <summary>The method that was called (<c>Type.Method</c>).</summary>
    public string Function { get; }

    /// <summary>The full name of the exception type thrown on the worker.</summary>
    public string RemoteType { get; }

    /// <summary>Its message.</summary>
    public string RemoteMessage { get; }

    /// <summary>Its <c>ToString()</c> on the worker: type, message, stack and inner exceptions.</summary>
    public string RemoteStackTrace { get; }

    /// <inheritdoc />
    public override string ToString() => $"{base.ToString()}{Environment.NewLine}--- remote ---{Environment.NewLine}{RemoteStackTrace}";
}
