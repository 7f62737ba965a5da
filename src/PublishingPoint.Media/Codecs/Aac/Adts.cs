using System.Diagnostics.CodeAnalysis;

namespace PublishingPoint.Media.Codecs.Aac;

/// <summary>
/// ADTS header without CRC (ISO/IEC 13818-7 6.2 / 14496-3 1.A.2.2), 56 bits:
/// <code>
/// syncword 12 = 0xFFF | ID 1 = 0 (MPEG-4) | layer 2 = 0 | protection_absent 1 = 1
/// profile 2 = AOT - 1 | sampling_frequency_index 4 | private_bit 1 | channel_configuration 3
/// original_copy 1 | home 1 | copyright_identification_bit 1 | copyright_identification_start 1
/// aac_frame_length 13 (header included) | adts_buffer_fullness 11 = 0x7FF (VBR) | number_of_raw_data_blocks_in_frame 2 = 0
/// </code>
/// </summary>
public static class Adts
{
    public const int HeaderLength = 7;
    public const int MaxFrameLength = 0x1FFF;

    /// <summary>Writes the header for one raw AAC frame of <paramref name="rawFrameLength"/> bytes.</summary>
    public static void WriteHeader(Span<byte> destination, AudioSpecificConfig config, int rawFrameLength)
    {
        ArgumentNullException.ThrowIfNull(config);
        var header = Prepare(config);
        WriteHeader(destination, header, rawFrameLength);
    }

    /// <summary>The per-stream part of the header, checked once; the hot path only adds the length.</summary>
    /// <exception cref="NotSupportedException">ADTS cannot carry this configuration.</exception>
    public static AdtsHeaderTemplate Prepare(AudioSpecificConfig config) =>
        TryPrepare(config, out var header, out var reason) ? header : throw new NotSupportedException(reason);

    /// <summary>
    /// The per-stream part of the header, or why ADTS cannot carry <paramref name="config"/>: an audio object type past
    /// AAC LTP (4), a sampling rate without a frequency index, a channel configuration past 7 (a program config element
    /// or a 22.2 layout).
    /// </summary>
    public static bool TryPrepare(AudioSpecificConfig config, out AdtsHeaderTemplate header, [NotNullWhen(false)] out string? reason)
    {
        ArgumentNullException.ThrowIfNull(config);
        header = default;
        if (config.BaseObjectType is < 1 or > 4)
        {
            reason = $"ADTS cannot carry audio object type {config.BaseObjectType}.";
            return false;
        }

        var frequencyIndex = config.SamplingFrequencyIndex == 15
            ? AudioSpecificConfig.FrequencyIndexOf(config.SamplingFrequency)
            : config.SamplingFrequencyIndex;
        if (frequencyIndex is < 0 or > 12)
        {
            reason = $"ADTS has no frequency index for {config.SamplingFrequency} Hz.";
            return false;
        }

        if (config.ChannelConfiguration > 7)
        {
            reason = $"ADTS cannot carry channel configuration {config.ChannelConfiguration}.";
            return false;
        }

        header = new AdtsHeaderTemplate(config.BaseObjectType - 1, frequencyIndex, config.ChannelConfiguration);
        reason = null;
        return true;
    }

    public static void WriteHeader(Span<byte> destination, AdtsHeaderTemplate header, int rawFrameLength)
    {
        var frameLength = rawFrameLength + HeaderLength;
        if (rawFrameLength < 0 || frameLength > MaxFrameLength)
        {
            throw new ArgumentOutOfRangeException(nameof(rawFrameLength), rawFrameLength, "ADTS frame length is 13 bits.");
        }

        const int BufferFullnessVbr = 0x7FF;
        var d = destination[..HeaderLength];
        d[0] = 0xFF;
        d[1] = 0xF1; // sync low nibble, ID 0, layer 00, protection_absent 1
        d[2] = (byte)((header.Profile << 6) | (header.FrequencyIndex << 2) | (header.ChannelConfiguration >> 2));
        d[3] = (byte)(((header.ChannelConfiguration & 0x3) << 6) | (frameLength >> 11));
        d[4] = (byte)(frameLength >> 3);
        d[5] = (byte)(((frameLength & 0x7) << 5) | (BufferFullnessVbr >> 6));
        d[6] = (byte)((BufferFullnessVbr & 0x3F) << 2);
    }
}

/// <summary>ADTS fields fixed for a stream: profile (object type - 1), frequency index, channel configuration.</summary>
public readonly record struct AdtsHeaderTemplate(int Profile, int FrequencyIndex, int ChannelConfiguration);
