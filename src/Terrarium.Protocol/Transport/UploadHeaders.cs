namespace Terrarium.Protocol.Transport;

/// <summary>The headers of the upload calls: whose value it is (UploadResult: a worker's; UploadValue: a session's).</summary>
public static class UploadHeaders
{
    public const string WorkerId = "terrarium-worker-id";
    public const string WorkId = "terrarium-work-id";
    public const string SessionId = "terrarium-session-id";
    public const string ObjectId = "terrarium-object-id";

    /// <summary>The trailer of a package download the head refused because the package is still being uploaded: ask again.</summary>
    public const string PackageUploading = "terrarium-package-uploading";
}
