using System.Buffers.Binary;
using PublishingPoint.Media.Codecs.Aac;

namespace PublishingPoint.Media.Hls;

/// <summary>
/// An HLS packed-audio segment (RFC 8216bis 3.4, Apple's "Packed Audio"): an ID3v2.4 tag whose PRIV frame
/// "com.apple.streaming.transportStreamTimestamp" holds the 33-bit MPEG-2 timestamp of the first frame, then the AAC
/// frames as ADTS. What the audio-only variant of a TS master plays.
/// </summary>
public static class PackedAudioWriter
{
    private static readonly byte[] _owner = "com.apple.streaming.transportStreamTimestamp\0"u8.ToArray();

    /// <summary>Bytes of the ID3 tag in front of the frames.</summary>
    public static int TagLength => 10 + 10 + _owner.Length + 8;

    /// <summary>The segment: the tag with <paramref name="firstPts90k"/>, then every frame with its ADTS header.</summary>
    /// <param name="frames">Raw AAC frames (no ADTS), in order.</param>
    public static byte[] Write(AudioSpecificConfig config, long firstPts90k, IReadOnlyList<ReadOnlyMemory<byte>> frames)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(frames);
        var length = TagLength;
        foreach (var frame in frames)
        {
            length += Adts.HeaderLength + frame.Length;
        }

        var output = new byte[length];
        WriteTag(output, firstPts90k);
        var at = TagLength;
        var header = Adts.Prepare(config);
        foreach (var frame in frames)
        {
            Adts.WriteHeader(output.AsSpan(at), header, frame.Length);
            at += Adts.HeaderLength;
            frame.Span.CopyTo(output.AsSpan(at));
            at += frame.Length;
        }

        return output;
    }

    private static void WriteTag(Span<byte> tag, long pts90k)
    {
        "ID3"u8.CopyTo(tag);
        tag[3] = 4; // ID3v2.4.0
        tag[4] = 0;
        tag[5] = 0; // no flags
        SyncSafe(tag[6..], TagLength - 10);
        var frame = tag[10..];
        "PRIV"u8.CopyTo(frame);
        SyncSafe(frame[4..], _owner.Length + 8);
        frame[8] = 0;
        frame[9] = 0;
        _owner.CopyTo(frame[10..]);
        BinaryPrimitives.WriteUInt64BigEndian(frame[(10 + _owner.Length)..], (ulong)pts90k & 0x1_FFFF_FFFF);
    }

    // ID3v2.4 sizes: 28 bits, 7 per byte, the high bit of each byte clear.
    private static void SyncSafe(Span<byte> destination, int value)
    {
        destination[0] = (byte)((value >> 21) & 0x7F);
        destination[1] = (byte)((value >> 14) & 0x7F);
        destination[2] = (byte)((value >> 7) & 0x7F);
        destination[3] = (byte)(value & 0x7F);
    }
}
