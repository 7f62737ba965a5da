namespace PublishingPoint.Media.MpegTs;

/// <summary>Fixed values of the transport streams this library writes (ISO/IEC 13818-1).</summary>
public static class TsConstants
{
    public const int PacketLength = 188;
    public const int HeaderLength = 4;
    public const int MaxPayload = PacketLength - HeaderLength;
    public const byte SyncByte = 0x47;

    public const int PatPid = 0x0000;
    public const int PmtPid = 0x1000;
    public const int VideoPid = 0x0100;
    public const int AudioPid = 0x0101;

    /// <summary>Timed ID3 metadata (Apple, "Timed Metadata for HTTP Live Streaming").</summary>
    public const int MetadataPid = 0x0102;

    public const int ProgramNumber = 1;
    public const int TransportStreamId = 1;

    /// <summary>Table 2-34 stream_type: AVC video.</summary>
    public const byte StreamTypeH264 = 0x1B;

    /// <summary>Table 2-34 stream_type: ISO/IEC 13818-7 audio with ADTS transport syntax.</summary>
    public const byte StreamTypeAdtsAac = 0x0F;

    /// <summary>Table 2-34 stream_type: metadata carried in PES packets.</summary>
    public const byte StreamTypeMetadataPes = 0x15;

    /// <summary>Table 2-22 stream_id: first video and first audio stream.</summary>
    public const byte VideoStreamId = 0xE0;

    public const byte AudioStreamId = 0xC0;

    /// <summary>Table 2-22 stream_id: private_stream_1, which timed ID3 PES use.</summary>
    public const byte PrivateStream1Id = 0xBD;

    /// <summary>PTS, DTS and PCR base are 33-bit counters of the 90 kHz clock.</summary>
    public const long TimestampMask = (1L << 33) - 1;
}
