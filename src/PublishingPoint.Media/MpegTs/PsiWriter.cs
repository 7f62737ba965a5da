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
    /// section numbers | '111' PCR_PID(13) | '1111' program_info_length(12) | program descriptors | per stream:
    /// stream_type(8) '111' elementary_PID(13) '1111' ES_info_length(12) | ES descriptors | CRC_32. With timed ID3
    /// (Apple's "Timed Metadata for HTTP Live Streaming") the program has a metadata_pointer_descriptor and a third
    /// stream, stream_type 0x15, has a metadata_descriptor, both naming the format 'ID3 '; version_number is then 1.
    /// </summary>
    public static void WritePmt(Span<byte> packet, int continuityCounter, bool hasAudio, bool timedId3 = false)
    {
        var section = BeginPsiPacket(packet, TsConstants.PmtPid, continuityCounter);
        var programInfo = timedId3 ? MetadataPointerDescriptorLength : 0;
        var streams = 5 + (hasAudio ? 5 : 0) + (timedId3 ? 5 + MetadataDescriptorLength : 0);
        var sectionLength = 9 + programInfo + streams + 4;
        WriteSectionHeader(section, tableId: 0x02, sectionLength, TsConstants.ProgramNumber, version: timedId3 ? 1 : 0);
        BinaryPrimitives.WriteUInt16BigEndian(section[8..], 0xE000 | TsConstants.VideoPid);
        BinaryPrimitives.WriteUInt16BigEndian(section[10..], (ushort)(0xF000 | programInfo));
        var at = 12;
        if (timedId3)
        {
            at += WriteMetadataPointerDescriptor(section[at..]);
        }

        at += WriteStream(section[at..], TsConstants.StreamTypeH264, TsConstants.VideoPid);
        if (hasAudio)
        {
            at += WriteStream(section[at..], TsConstants.StreamTypeAdtsAac, TsConstants.AudioPid);
        }

        if (timedId3)
        {
            at += WriteStream(section[at..], TsConstants.StreamTypeMetadataPes, TsConstants.MetadataPid, MetadataDescriptorLength);
            WriteMetadataDescriptor(section[at..]);
        }

        EndSection(section, sectionLength);
    }

    private const int MetadataPointerDescriptorLength = 2 + 15;
    private const int MetadataDescriptorLength = 2 + 13;

    /// <summary>
    /// metadata_pointer_descriptor (2.6.58): tag 0x25 | length | metadata_application_format 0xFFFF | its identifier
    /// 'ID3 ' | metadata_format 0xFF | its identifier 'ID3 ' | metadata_service_id 0 | locator_record_flag 0,
    /// MPEG_carriage_flags 0, reserved '11111' | program_number.
    /// </summary>
    private static int WriteMetadataPointerDescriptor(Span<byte> d)
    {
        d[0] = 0x25;
        d[1] = MetadataPointerDescriptorLength - 2;
        WriteId3Format(d[2..]);
        d[13] = 0x1F;
        BinaryPrimitives.WriteUInt16BigEndian(d[14..], TsConstants.ProgramNumber);
        return MetadataPointerDescriptorLength;
    }

    /// <summary>
    /// metadata_descriptor (2.6.60): tag 0x26 | length | the same format fields | metadata_service_id 0 |
    /// decoder_config_flags '000', DSM-CC_flag 0, reserved '1111'.
    /// </summary>
    private static void WriteMetadataDescriptor(Span<byte> d)
    {
        d[0] = 0x26;
        d[1] = MetadataDescriptorLength - 2;
        WriteId3Format(d[2..]);
        d[13] = 0x0F;
    }

    // metadata_application_format, its identifier, metadata_format, its identifier, metadata_service_id.
    private static void WriteId3Format(Span<byte> d)
    {
        BinaryPrimitives.WriteUInt16BigEndian(d, 0xFFFF);
        "ID3 "u8.CopyTo(d[2..]);
        d[6] = 0xFF;
        "ID3 "u8.CopyTo(d[7..]);
        d[11] = 0;
    }

    private static Span<byte> BeginPsiPacket(Span<byte> packet, int pid, int continuityCounter)
    {
        packet = packet[..TsConstants.PacketLength];
        packet.Fill(0xFF);
        TsPacketWriter.WriteHeader(packet, pid, payloadUnitStart: true, hasAdaptationField: false, continuityCounter);
        packet[TsConstants.HeaderLength] = 0; // pointer_field
        return packet[(TsConstants.HeaderLength + 1)..];
    }

    private static void WriteSectionHeader(Span<byte> section, byte tableId, int sectionLength, int idExtension, int version = 0)
    {
        section[0] = tableId;
        BinaryPrimitives.WriteUInt16BigEndian(section[1..], (ushort)(0xB000 | sectionLength)); // syntax 1, '0', '11'
        BinaryPrimitives.WriteUInt16BigEndian(section[3..], (ushort)idExtension);
        section[5] = (byte)(0xC1 | (version << 1)); // reserved '11', version_number(5), current_next_indicator 1
        section[6] = 0; // section_number
        section[7] = 0; // last_section_number
    }

    private static int WriteStream(Span<byte> entry, byte streamType, int pid, int esInfoLength = 0)
    {
        entry[0] = streamType;
        BinaryPrimitives.WriteUInt16BigEndian(entry[1..], (ushort)(0xE000 | pid));
        BinaryPrimitives.WriteUInt16BigEndian(entry[3..], (ushort)(0xF000 | esInfoLength));
        return 5;
    }

    // section_length counts the bytes after itself, CRC included; the CRC covers table_id up to the CRC.
    private static void EndSection(Span<byte> section, int sectionLength)
    {
        var crcOffset = 3 + sectionLength - 4;
        BinaryPrimitives.WriteUInt32BigEndian(section[crcOffset..], Crc32Mpeg2.Compute(section[..crcOffset]));
    }
}
