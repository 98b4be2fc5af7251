using System.Text;
using Grpc.Core;
using Terrarium.Protocol;

namespace Terrarium.Node.Service;

/// <summary>Envs' setup logs, for <c>terrarium env logs</c>.</summary>
internal sealed partial class NodeService
{
    /// <summary>Lines sent in one message, at most.</summary>
    private const int LogLinesPerMessage = 500;

    /// <summary>Of the file's lines, the last this many bytes are sent (a log of many builds may be long).</summary>
    private const int EarlierLogBytes = 16 << 20;

    public override async Task EnvSetupLog(EnvSetupLogRequest request, IServerStreamWriter<EnvSetupLogLines> responseStream, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var hash = FindEnvWithLog(request.EnvHash);
        var log = builds.LogOf(hash);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        try
        {
            // A build still running: its lines from memory, as they come. Else all is in the file.
            var running = log?.Follow(stop.Token);
            var earlier = await ReadFileAsync(RuntimeEnvs.SetupLog.FileOf(builds.LogFolder, hash), running is null ? null : log!.FileStart, ct).ConfigureAwait(false);
            foreach (var batch in earlier.Chunk(LogLinesPerMessage))
            {
                await responseStream.WriteAsync(Lines(hash, batch), ct).ConfigureAwait(false);
            }

            if (running is null)
            {
                return;
            }

            do
            {
                var batch = new List<string>();
                while (batch.Count < LogLinesPerMessage && running.TryRead(out var line))
                {
                    batch.Add(line);
                }

                if (batch.Count > 0)
                {
                    await responseStream.WriteAsync(Lines(hash, batch), ct).ConfigureAwait(false);
                }
            }
            while (request.Follow && await running.WaitToReadAsync(ct).ConfigureAwait(false));
        }
        finally
        {
            // Stops following: the build's log forgets this reader.
            await stop.CancelAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The one env whose hash is, or starts with, <paramref name="given"/> among those this node has a log of.</summary>
    private string FindEnvWithLog(string given)
    {
        if (given.Length is 0 or > 64 || !given.All(char.IsAsciiHexDigitLower))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                $"'{Truncated(given)}' is not an env hash: give the hash (or its start) in lowercase hex, as 'terrarium status' shows it"));
        }

        var logged = Directory.Exists(builds.LogFolder)
            ? Directory.EnumerateFiles(builds.LogFolder, "*.log").Select(f => Path.GetFileNameWithoutExtension(f)!)
            : [];
        var matches = logged.Concat(builds.List().Select(b => b.Hash)).Where(h => h.StartsWith(given, StringComparison.Ordinal)).Distinct().Order().ToList();
        return matches switch
        {
            [var one] => one,
            [] => throw new RpcException(new Status(StatusCode.NotFound, $"node {options.NodeId} has no setup log of an env {given}")),
            _ => throw new RpcException(new Status(StatusCode.InvalidArgument,
                $"'{given}' is the start of {matches.Count} envs' hashes on node {options.NodeId} ({string.Join(", ", matches.Take(5))}); give more of the hash")),
        };
    }

    /// <summary>The file's lines up to <paramref name="until"/> (else its end): the last <see cref="EarlierLogBytes"/> of them.</summary>
    private static async Task<List<string>> ReadFileAsync(string file, long? until, CancellationToken ct)
    {
        try
        {
            await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var end = Math.Min(until ?? stream.Length, stream.Length);
            var start = Math.Max(0, end - EarlierLogBytes);
            stream.Position = start;
            var bytes = new byte[end - start];
            await stream.ReadExactlyAsync(bytes, ct).ConfigureAwait(false);
            var lines = Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
            if (start > 0 && lines.Count > 0)
            {
                lines[0] = "(earlier lines left out)";
            }

            return lines;
        }
        catch (FileNotFoundException)
        {
            return [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [$"(the node cannot read its log file {file}: {e.Message})"];
        }
    }

    private static EnvSetupLogLines Lines(string hash, IEnumerable<string> lines)
    {
        var message = new EnvSetupLogLines { EnvHash = hash };
        message.Lines.Add(lines);
        return message;
    }

    private static string Truncated(string text) => text.Length <= 80 ? text : text[..80] + "…";
}
