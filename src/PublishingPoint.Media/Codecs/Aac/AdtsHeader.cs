namespace PublishingPoint.Media.Codecs.Aac;

/// <summary>
/// A parsed ADTS frame header (ISO/IEC 13818-7 6.2 / 14496-3 1.A.2.2): the fixed part (syncword 0xFFF, ID, layer,
/// protection_absent, profile, sampling_frequency_index, private_bit, channel_configuration, original_copy, home)
/// and the variable part (copyright bits, aac_frame_length 13 incl. header, adts_buffer_fullness 11,
/// number_of_raw_data_blocks_in_frame 2), followed by a 16-bit CRC when protection_absent is 0.
/// </summary>
public readonly record struct AdtsHeader(
    int Profile,
    int FrequencyIndex,
    int ChannelConfiguration,
    int FrameLength,
    bool HasCrc,
    int RawDataBlocks)
{
    /// <summary>Header bytes before the raw data: 7, or 9 with the CRC.</summary>
    public int HeaderLength => HasCrc ? Adts.HeaderLength + 2 : Adts.HeaderLength;

    public int RawLength => FrameLength - HeaderLength;

    /// <summary>MPEG-4 audio object type: ADTS profile + 1 (2 for AAC-LC).</summary>
    public int ObjectType => Profile + 1;

    /// <summary>
    /// Reads a header at the start of <paramref name="source"/>. False when fewer than 7 bytes are there, the sync
    /// word is missing, or a field holds a value no AAC stream can have (reserved layer or frequency index, a frame
    /// shorter than its header).
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out AdtsHeader header)
    {
        header = default;
        if (source.Length < Adts.HeaderLength || source[0] != 0xFF || (source[1] & 0xF6) != 0xF0)
        {
            return false; // syncword, layer '00'
        }

        var hasCrc = (source[1] & 0x01) == 0;
        var profile = source[2] >> 6;
        var frequencyIndex = (source[2] >> 2) & 0x0F;
        var channels = ((source[2] & 0x01) << 2) | (source[3] >> 6);
        var frameLength = ((source[3] & 0x03) << 11) | (source[4] << 3) | (source[5] >> 5);
        var blocks = source[6] & 0x03;
        if (frequencyIndex > 12 || frameLength < (hasCrc ? 9 : 7))
        {
            return false;
        }

        header = new AdtsHeader(profile, frequencyIndex, channels, frameLength, hasCrc, blocks);
        return true;
    }

    /// <summary>The 2-byte AudioSpecificConfig this header implies: objectType(5) frequencyIndex(4) channels(4) 000.</summary>
    public AudioSpecificConfig ToAudioSpecificConfig()
    {
        Span<byte> asc =
        [
            (byte)((ObjectType << 3) | (FrequencyIndex >> 1)),
            (byte)(((FrequencyIndex & 1) << 7) | (ChannelConfiguration << 3)),
        ];
        return AudioSpecificConfig.Parse(asc);
    }

    /// <summary>True when both headers describe the same decoder configuration.</summary>
    public bool SameConfiguration(in AdtsHeader other) =>
        Profile == other.Profile && FrequencyIndex == other.FrequencyIndex && ChannelConfiguration == other.ChannelConfiguration;
}
