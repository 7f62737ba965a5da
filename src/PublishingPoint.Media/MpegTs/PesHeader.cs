using System.Buffers.Binary;

namespace PublishingPoint.Media.MpegTs;

/// <summary>
/// PES packet header (ISO/IEC 13818-1 2.4.3.6): packet_start_code_prefix 00 00 01 | stream_id | PES_packet_length(16)
/// | '10' scrambling '00' priority 0 data_alignment_indicator 1 copyright 0 original 0 (0x84)
/// | PTS_DTS_flags(2) and six zero flags | PES_header_data_length | PTS (5 bytes) [DTS (5 bytes)].
/// </summary>
internal static class PesHeader
{
    public const int LengthWithPts = 14;
    public const int LengthWithPtsAndDts = 19;

    public static int GetLength(bool withDts) => withDts ? LengthWithPtsAndDts : LengthWithPts;

    /// <summary>
    /// Writes the header; PES_packet_length is 0 ("unbounded", allowed for video only) when the packet exceeds 65535 bytes.
    /// </summary>
    public static int Write(Span<byte> destination, byte streamId, int payloadLength, long pts, long dts, bool withDts)
    {
        var headerLength = GetLength(withDts);
        var packetLength = headerLength - 6 + payloadLength;
        destination[0] = 0;
        destination[1] = 0;
        destination[2] = 1;
        destination[3] = streamId;
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], packetLength > ushort.MaxValue ? (ushort)0 : (ushort)packetLength);
        destination[6] = 0x84;
        destination[7] = withDts ? (byte)0xC0 : (byte)0x80;
        destination[8] = (byte)(headerLength - 9);
        WriteTimestamp(destination[9..], withDts ? 0b0011 : 0b0010, pts);
        if (withDts)
        {
            WriteTimestamp(destination[14..], 0b0001, dts);
        }

        return headerLength;
    }

    /// <summary>prefix(4) TS[32..30] marker | TS[29..15] marker | TS[14..0] marker, modulo 2^33.</summary>
    private static void WriteTimestamp(Span<byte> destination, int prefix, long timestamp)
    {
        var t = timestamp & TsConstants.TimestampMask;
        destination[0] = (byte)((prefix << 4) | (int)((t >> 29) & 0x0E) | 1);
        destination[1] = (byte)(t >> 22);
        destination[2] = (byte)(((t >> 14) & 0xFE) | 1);
        destination[3] = (byte)(t >> 7);
        destination[4] = (byte)(((t << 1) & 0xFE) | 1);
    }
}
