namespace Terrarium.Protocol.Hosting;

/// <summary>The headers of an UploadResult call: whose result it is.</summary>
public static class UploadHeaders
{
    public const string WorkerId = "terrarium-worker-id";
    public const string WorkId = "terrarium-work-id";
}
