using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Terrarium.Node.Service;

namespace Terrarium.Node.RuntimeEnvs.Container;

/// <summary>
/// The images this node pulled for container envs, each recorded as a small folder of its cache
/// (<c>images/NAME/image.json</c>: the reference and its size) so that the cache collector counts
/// it as a <c>container</c> resource like any other: in use while an env in it has users, deleted
/// least recently used first once unused past the kind's limit. Deleting the record removes the
/// image (<c>podman rmi</c>). Images the node found already there are the operator's: never recorded,
/// never removed.
/// </summary>
internal sealed class PulledImages(NodeOptions options, ContainerCommand runtime, ILogger<PulledImages> logger)
{
    private const string RecordFile = "image.json";

    /// <summary>Raised with an image's reference before it is removed: what knows it is present forgets it.</summary>
    public event Action<string>? Removing;

    /// <summary>The record folder of an image this node pulled, or null for one it did not.</summary>
    public string? FolderOf(string image)
    {
        var folder = FolderFor(image);
        return File.Exists(Path.Combine(folder, RecordFile)) ? folder : null;
    }

    /// <summary>
    /// Records a pulled image with its size, as podman reports it. A record that cannot be made is
    /// logged, not a failure of the env that pulled: the image then stays, as one of the operator's.
    /// </summary>
    public async Task RecordAsync(string image, CancellationToken ct)
    {
        try
        {
            var (exitCode, output, errors) = await runtime.RunAsync(ct, "image", "inspect", "--format", "{{.Size}}", image).ConfigureAwait(false);
            if (exitCode != 0 || !long.TryParse(output.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var size))
            {
                throw new IOException($"{runtime.Command} image inspect did not give its size: {errors.Trim()}");
            }

            await WriteRecordAsync(image, size, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            NodeLog.PulledImageNotRecorded(logger, image, e.Message);
        }
    }

    private async Task WriteRecordAsync(string image, long size, CancellationToken ct)
    {
        var folder = FolderFor(image);
        var temp = folder + ".tmp";
        if (Directory.Exists(temp))
        {
            Directory.Delete(temp, recursive: true);
        }

        Directory.CreateDirectory(temp);
        await File.WriteAllTextAsync(Path.Combine(temp, RecordFile), JsonSerializer.Serialize(new ImageRecord(image, size)), ct).ConfigureAwait(false);
        if (!Directory.Exists(folder))
        {
            Directory.Move(temp, folder);
        }
        else
        {
            Directory.Delete(temp, recursive: true);
        }
    }

    /// <summary>The record in <paramref name="folder"/>, or null when it has none that reads.</summary>
    public static ImageRecord? Read(string folder)
    {
        try
        {
            return JsonSerializer.Deserialize<ImageRecord>(File.ReadAllText(Path.Combine(folder, RecordFile)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// Removes an image whose record the collector deleted. One a container still uses (not one of
    /// this node's: the operator's) stays, and is logged.
    /// </summary>
    public async Task RemoveAsync(string image)
    {
        Removing?.Invoke(image);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            var (exitCode, _, errors) = await runtime.RunAsync(timeout.Token, "rmi", image).ConfigureAwait(false);
            if (exitCode != 0)
            {
                NodeLog.CachedResourceNotRemoved(logger, image, errors.Trim());
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or System.ComponentModel.Win32Exception)
        {
            NodeLog.CachedResourceNotRemoved(logger, image, e.Message);
        }
    }

    /// <summary>The folder of <paramref name="image"/>'s record: its reference made a folder name, with a hash that keeps distinct references apart.</summary>
    private string FolderFor(string image)
    {
        var readable = new StringBuilder(image.Length);
        foreach (var c in image.Take(80))
        {
            readable.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '_');
        }

        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(image)))[..8].ToLowerInvariant();
        return Path.Combine(options.CacheDirectory, "images", $"{readable}-{hash}");
    }
}

/// <summary>What a node keeps of an image it pulled.</summary>
internal sealed record ImageRecord(string Image, long Size);
