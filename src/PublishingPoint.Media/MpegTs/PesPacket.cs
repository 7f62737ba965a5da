namespace PublishingPoint.Media.MpegTs;

/// <summary>
/// Reads a reassembled PES packet (ISO/IEC 13818-1 2.4.3.6): packet_start_code_prefix 00 00 01, stream_id,
/// PES_packet_length, '10' + flags, PTS_DTS_flags, PES_header_data_length, [PTS] [DTS], then the payload.
/// Timestamps are returned raw (33 bits).
/// </summary>
internal readonly ref struct PesPacket
{
    private PesPacket(long? pts, long? dts, ReadOnlySpan<byte> payload)
    {
        Pts = pts;
        Dts = dts;
        Payload = payload;
    }

    public long? Pts { get; }

    public long? Dts { get; }

    public ReadOnlySpan<byte> Payload { get; }

    public static bool TryRead(ReadOnlySpan<byte> pes, out PesPacket packet)
    {
        packet = default;
        if (pes.Length < 9 || pes[0] != 0 || pes[1] != 0 || pes[2] != 1 || (pes[6] & 0xC0) != 0x80)
        {
            return false;
        }

        var ptsDtsFlags = pes[7] >> 6;
        var payloadStart = 9 + pes[8];
        if (payloadStart > pes.Length || ptsDtsFlags == 1)
        {
            return false;
        }

        long? pts = null, dts = null;
        if (ptsDtsFlags >= 2)
        {
            if (pes[8] < (ptsDtsFlags == 3 ? 10 : 5))
            {
                return false;
            }

            pts = ReadTimestamp(pes[9..]);
            dts = ptsDtsFlags == 3 ? ReadTimestamp(pes[14..]) : pts;
        }

        packet = new PesPacket(pts, dts, pes[payloadStart..]);
        return true;
    }

    /// <summary>'xxxx' TS[32..30] marker, TS[29..15] marker, TS[14..0] marker (markers not enforced).</summary>
    private static long ReadTimestamp(ReadOnlySpan<byte> b) =>
        ((long)(b[0] & 0x0E) << 29) | ((long)b[1] << 22) | ((long)(b[2] >> 1) << 15) | ((long)b[3] << 7) | ((long)b[4] >> 1);
}
