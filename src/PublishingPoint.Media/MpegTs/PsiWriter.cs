using System.Buffers.Binary;

namespace PublishingPoint.Media.MpegTs;

/// <summary>Writes the PAT and PMT, each as one packet: header, pointer_field 0, section, CRC_32, 0xFF fill.</summary>
internal static class PsiWriter
{
    /// <summary>
    /// program_association_section (2.4.4.3): table_id 0x00 | '1011' + section_length(12) | transport_stream_id(16)
    /// | '11' version(5)=0 current_next=1 | section_number | last_section_number | program_number(16) '111' PMT PID(13) | CRC_32.
    /// </summary>
    public static void WritePat(Span<byte> packet, int continuityCounter)
    {
        var section = BeginPsiPacket(packet, TsConstants.PatPid, continuityCounter);
        const int SectionLength = 5 + 4 + 4;
        WriteSectionHeader(section, tableId: 0x00, SectionLength, TsConstants.TransportStreamId);
        BinaryPrimitives.WriteUInt16BigEndian(section[8..], TsConstants.ProgramNumber);
        BinaryPrimitives.WriteUInt16BigEndian(section[10..], 0xE000 | TsConstants.PmtPid);
        EndSection(section, SectionLength);
    }

    /// <summary>
    /// TS_program_map_section (2.4.4.8): table_id 0x02 | section_length | program_number | version/current_next |
    /// section numbers | '111' PCR_PID(13) | '1111' program_info_length(12)=0 | per stream: stream_type(8)
    /// '111' elementary_PID(13) '1111' ES_info_length(12)=0 | CRC_32.
    /// </summary>
    public static void WritePmt(Span<byte> packet, int continuityCounter, bool hasAudio)
    {
        var section = BeginPsiPacket(packet, TsConstants.PmtPid, continuityCounter);
        var sectionLength = 9 + (hasAudio ? 10 : 5) + 4;
        WriteSectionHeader(section, tableId: 0x02, sectionLength, TsConstants.ProgramNumber);
        BinaryPrimitives.WriteUInt16BigEndian(section[8..], 0xE000 | TsConstants.VideoPid);
        BinaryPrimitives.WriteUInt16BigEndian(section[10..], 0xF000);
        WriteStream(section[12..], TsConstants.StreamTypeH264, TsConstants.VideoPid);
        if (hasAudio)
        {
            WriteStream(section[17..], TsConstants.StreamTypeAdtsAac, TsConstants.AudioPid);
        }

        EndSection(section, sectionLength);
    }

    private static Span<byte> BeginPsiPacket(Span<byte> packet, int pid, int continuityCounter)
    {
        packet = packet[..TsConstants.PacketLength];
        packet.Fill(0xFF);
        TsPacketWriter.WriteHeader(packet, pid, payloadUnitStart: true, hasAdaptationField: false, continuityCounter);
        packet[TsConstants.HeaderLength] = 0; // pointer_field
        return packet[(TsConstants.HeaderLength + 1)..];
    }

    private static void WriteSectionHeader(Span<byte> section, byte tableId, int sectionLength, int idExtension)
    {
        section[0] = tableId;
        BinaryPrimitives.WriteUInt16BigEndian(section[1..], (ushort)(0xB000 | sectionLength)); // syntax 1, '0', '11'
        BinaryPrimitives.WriteUInt16BigEndian(section[3..], (ushort)idExtension);
        section[5] = 0xC1; // reserved '11', version 0, current_next_indicator 1
        section[6] = 0; // section_number
        section[7] = 0; // last_section_number
    }

    private static void WriteStream(Span<byte> entry, byte streamType, int pid)
    {
        entry[0] = streamType;
        BinaryPrimitives.WriteUInt16BigEndian(entry[1..], (ushort)(0xE000 | pid));
        BinaryPrimitives.WriteUInt16BigEndian(entry[3..], 0xF000);
    }

    // section_length counts the bytes after itself, CRC included; the CRC covers table_id up to the CRC.
    private static void EndSection(Span<byte> section, int sectionLength)
    {
        var crcOffset = 3 + sectionLength - 4;
        BinaryPrimitives.WriteUInt32BigEndian(section[crcOffset..], Crc32Mpeg2.Compute(section[..crcOffset]));
    }
}
