using System.Buffers;

namespace Terrarium.Protocol.Framing;

/// <summary>
/// One frame read from a <see cref="FramedConnection"/>: <c>u32 length | u8 type | payload</c> on
/// the wire (length in network byte order, counting the payload only). The payload is the
/// connection's own buffer: read it (or copy it) before the next read.
/// </summary>
public readonly record struct Frame(byte Type, ReadOnlySequence<byte> Payload);
