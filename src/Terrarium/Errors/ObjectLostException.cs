namespace Terrarium;

/// <summary>An object's value is gone: released, or held by a node that died.</summary>
public sealed class ObjectLostException(string message) : TerrariumException(message);
