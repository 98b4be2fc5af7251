namespace Terrarium;

/// <summary>The base of the errors Terrarium reports for remote work.</summary>
public abstract class TerrariumException : Exception
{
    /// <summary>Creates an error with a message.</summary>
    protected TerrariumException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}
