namespace PublishingPoint.Media.MpegTs;

/// <summary>Transport packet header and adaptation field (ISO/IEC 13818-1 2.4.3.2, 2.4.3.4).</summary>
internal static class TsPacketWriter
{
    /// <summary>Adaptation field with flags only: adaptation_field_length, flags byte.</summary>
    public const int FlagsOnlyAdaptationLength = 2;

    /// <summary>Adaptation field carrying a PCR: length, flags, 6-byte PCR.</summary>
    public const int PcrAdaptationLength = 8;

    /// <summary>
    /// sync_byte 0x47 | transport_error_indicator 0, payload_unit_start_indicator, transport_priority 0, PID(13)
    /// | transport_scrambling_control '00', adaptation_field_control ('01' payload only, '11' both), continuity_counter(4).
    /// </summary>
    public static void WriteHeader(Span<byte> packet, int pid, bool payloadUnitStart, bool hasAdaptationField, int continuityCounter)
    {
        packet[0] = TsConstants.SyncByte;
        packet[1] = (byte)((payloadUnitStart ? 0x40 : 0) | (pid >> 8));
        packet[2] = (byte)pid;
        packet[3] = (byte)((hasAdaptationField ? 0x30 : 0x10) | (continuityCounter & 0xF));
    }

    /// <summary>
    /// Writes one payload-bearing packet. The adaptation field takes whatever the payload leaves of the 184 bytes:
    /// a single 0x00 length byte for one spare byte, else length, flags (random_access_indicator 0x40,
    /// PCR_flag 0x10), the PCR and 0xFF stuffing.
    /// </summary>
    public static void WritePacket(
        Span<byte> packet,
        int pid,
        bool payloadUnitStart,
        int continuityCounter,
        ReadOnlySpan<byte> payload,
        long pcrBase,
        bool randomAccess)
    {
        var withPcr = pcrBase >= 0;
        var adaptationLength = TsConstants.MaxPayload - payload.Length;
        WriteHeader(packet, pid, payloadUnitStart, adaptationLength > 0, continuityCounter);
        var field = packet.Slice(TsConstants.HeaderLength, adaptationLength);
        if (adaptationLength == 1)
        {
            field[0] = 0;
        }
        else if (adaptationLength > 1)
        {
            field[0] = (byte)(adaptationLength - 1);
            field[1] = (byte)((randomAccess ? 0x40 : 0) | (withPcr ? 0x10 : 0));
            var stuffingStart = 2;
            if (withPcr)
            {
                WritePcr(field[2..], pcrBase);
                stuffingStart += 6;
            }

            field[stuffingStart..].Fill(0xFF);
        }

        payload.CopyTo(packet[(TsConstants.HeaderLength + adaptationLength)..]);
    }

    /// <summary>program_clock_reference_base(33) | reserved '111111' | program_clock_reference_extension(9) = 0.</summary>
    private static void WritePcr(Span<byte> destination, long pcrBase)
    {
        var b = pcrBase & TsConstants.TimestampMask;
        destination[0] = (byte)(b >> 25);
        destination[1] = (byte)(b >> 17);
        destination[2] = (byte)(b >> 9);
        destination[3] = (byte)(b >> 1);
        destination[4] = (byte)(((b & 1) << 7) | 0x7E);
        destination[5] = 0;
    }
}
