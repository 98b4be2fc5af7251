using System.Security.Cryptography;
using Google.Protobuf;
using Grpc.Core;
using Terrarium.Protocol;

namespace Terrarium.Tests.Head.Packages;

/// <summary>Package uploads and downloads as gRPC hands them to the head's store.</summary>
internal static class PackageStreams
{
    public static string Hash(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();

    /// <summary>An upload as a client sends it: the first chunk names the hash and size.</summary>
    public static ChunkReader Chunks(string hash, long announced, byte[] bytes, int chunkSize = 3, string jobId = "")
    {
        var chunks = bytes.Chunk(chunkSize).Select(part => new PackageChunk { Data = ByteString.CopyFrom(part) }).DefaultIfEmpty(new PackageChunk()).ToList();
        chunks[0].Hash = hash;
        chunks[0].TotalSize = announced;
        chunks[0].JobId = jobId;
        return new ChunkReader(chunks);
    }

    /// <summary>A client's stream of chunks, as gRPC hands it to the service; the chunks after the first wait for <paramref name="rest"/>.</summary>
    public sealed class ChunkReader(IReadOnlyList<PackageChunk> chunks, Task? rest = null) : IAsyncStreamReader<PackageChunk>
    {
        private int _next;

        public IReadOnlyList<PackageChunk> Chunks => chunks;

        public PackageChunk Current { get; private set; } = new();

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            if (_next > 0 && rest is not null)
            {
                await rest;
            }

            if (_next == chunks.Count)
            {
                return false;
            }

            Current = chunks[_next++];
            return true;
        }
    }

    /// <summary>What the service writes to a node's stream.</summary>
    public sealed class ChunkWriter : IServerStreamWriter<PackageChunk>
    {
        public List<PackageChunk> Chunks { get; } = [];

        public WriteOptions? WriteOptions { get; set; }

        public Task WriteAsync(PackageChunk message)
        {
            Chunks.Add(message.Clone());
            return Task.CompletedTask;
        }
    }
}
