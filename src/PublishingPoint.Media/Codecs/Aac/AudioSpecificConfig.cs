namespace PublishingPoint.Media.Codecs.Aac;

/// <summary>
/// MPEG-4 AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1), the AAC decoder configuration:
/// <code>
/// u5 audioObjectType (31 = escape: 32 + u6)
/// u4 samplingFrequencyIndex (15 = explicit: u24 samplingFrequency)
/// u4 channelConfiguration
/// [AOT 5/29 (explicit SBR/PS): u4 extensionSamplingFrequencyIndex (+u24), audioObjectType again]
/// GASpecificConfig, then optionally the backward-compatible sync extension 0x2B7 (SBR/PS signalling)
/// </code>
/// </summary>
public sealed class AudioSpecificConfig
{
    private const int EscapeFrequencyIndex = 15;
    private const int SyncExtensionSbr = 0x2B7;
    private const int SyncExtensionPs = 0x548;
    private const int AotSbr = 5;
    private const int AotPs = 29;

    /// <summary>Table 1.18 samplingFrequencyIndex 0..12.</summary>
    private static readonly int[] FrequencyTable =
        [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

    private AudioSpecificConfig(ReadOnlyMemory<byte> bytes) => Bytes = bytes;

    /// <summary>The object type as signalled first: 2 for AAC-LC, 5 for explicit HE-AAC, 29 for HE-AACv2.</summary>
    public int ObjectType { get; private set; }

    /// <summary>The core coder's object type: equals <see cref="ObjectType"/> except under explicit SBR/PS, where it is usually 2.</summary>
    public int BaseObjectType { get; private set; }

    /// <summary>Index into Table 1.18, or 15 when the core frequency is written out.</summary>
    public int SamplingFrequencyIndex { get; private set; }

    /// <summary>Core coder sampling frequency in Hz.</summary>
    public int SamplingFrequency { get; private set; }

    public int ChannelConfiguration { get; private set; }

    /// <summary>5 (SBR) or 29 (PS) when an extension is signalled, 0 otherwise.</summary>
    public int ExtensionObjectType { get; private set; }

    public bool SbrPresent { get; private set; }
    public bool PsPresent { get; private set; }

    /// <summary>Output frequency of SBR when present, 0 otherwise.</summary>
    public int ExtensionSamplingFrequency { get; private set; }

    /// <summary>The record as parsed, for writing into esds or a DASH manifest.</summary>
    public ReadOnlyMemory<byte> Bytes { get; }

    /// <summary>Channel count for channelConfiguration 1..7 (7 is 7.1, eight channels); 0 means defined by a PCE.</summary>
    public int ChannelCount => ChannelConfiguration == 7 ? 8 : ChannelConfiguration;

    /// <summary>Samples per channel in one raw_data_block at the core rate: 1024, or 960 when frameLengthFlag is set.</summary>
    public int SamplesPerFrame { get; private set; } = 1024;

    public string CodecString => Rfc6381.ForAac(this);

    /// <summary>From Smooth Streaming CodecPrivateData (the AudioSpecificConfig in hex), e.g. "1190".</summary>
    public static AudioSpecificConfig FromCodecPrivateData(string hex)
    {
        ArgumentNullException.ThrowIfNull(hex);
        return Parse(Convert.FromHexString(hex));
    }

    public static AudioSpecificConfig Parse(ReadOnlySpan<byte> data)
    {
        if (data.Length < 2)
        {
            throw new InvalidDataException("AudioSpecificConfig needs at least two bytes.");
        }

        var config = new AudioSpecificConfig(data.ToArray());
        var r = new BitReader(data);
        var totalBits = data.Length * 8;

        config.ObjectType = ReadObjectType(ref r);
        (config.SamplingFrequencyIndex, config.SamplingFrequency) = ReadFrequency(ref r);
        config.ChannelConfiguration = (int)r.ReadBits(4);
        config.BaseObjectType = config.ObjectType;
        if (config.ObjectType is AotSbr or AotPs)
        {
            config.ExtensionObjectType = config.ObjectType;
            config.SbrPresent = true;
            config.PsPresent = config.ObjectType == AotPs;
            config.ExtensionSamplingFrequency = ReadFrequency(ref r).Frequency;
            config.BaseObjectType = ReadObjectType(ref r);
        }

        // GASpecificConfig (4.4.1) for the AAC family; other coders and PCE layouts end parsing here,
        // which is enough for everything this library reads from the config.
        if (!IsGeneralAudioCoding(config.BaseObjectType) || config.ChannelConfiguration == 0)
        {
            return config;
        }

        if (r.ReadFlag())
        {
            config.SamplesPerFrame = 960;
        }
        if (r.ReadFlag())
        {
            r.Skip(14); // coreCoderDelay
        }

        var extensionFlag = r.ReadFlag();
        if (config.BaseObjectType is 6 or 20)
        {
            r.Skip(3); // layerNr
        }

        if (extensionFlag)
        {
            if (config.BaseObjectType == 22)
            {
                r.Skip(16); // numOfSubFrame, layer_length
            }

            if (config.BaseObjectType is 17 or 19 or 20 or 23)
            {
                r.Skip(3); // the three resilience flags
            }

            r.Skip(1); // extensionFlag3
        }

        if (config.BaseObjectType is 17 or (>= 19 and <= 27) or 39)
        {
            r.Skip(2); // epConfig
        }

        if (config.ExtensionObjectType != AotSbr && totalBits - r.BitsRead >= 16 && r.ReadBits(11) == SyncExtensionSbr)
        {
            ReadSyncExtension(ref r, config, totalBits);
        }

        return config;
    }

    // Backward-compatible (implicit-compatible) signalling, 1.6.2.1 after GASpecificConfig.
    private static void ReadSyncExtension(ref BitReader r, AudioSpecificConfig config, int totalBits)
    {
        var extensionType = ReadObjectType(ref r);
        if (extensionType != AotSbr)
        {
            return;
        }

        config.ExtensionObjectType = AotSbr;
        config.SbrPresent = r.ReadFlag();
        if (!config.SbrPresent)
        {
            return;
        }

        config.ExtensionSamplingFrequency = ReadFrequency(ref r).Frequency;
        if (totalBits - r.BitsRead >= 12 && r.ReadBits(11) == SyncExtensionPs)
        {
            config.PsPresent = r.ReadFlag();
        }
    }

    private static bool IsGeneralAudioCoding(int objectType) =>
        objectType is 1 or 2 or 3 or 4 or 6 or 7 or 17 or 19 or 20 or 21 or 22 or 23;

    private static int ReadObjectType(ref BitReader r)
    {
        var objectType = (int)r.ReadBits(5);
        return objectType == 31 ? 32 + (int)r.ReadBits(6) : objectType;
    }

    private static (int Index, int Frequency) ReadFrequency(ref BitReader r)
    {
        var index = (int)r.ReadBits(4);
        if (index == EscapeFrequencyIndex)
        {
            return (index, (int)r.ReadBits(24));
        }

        if (index >= FrequencyTable.Length)
        {
            throw new InvalidDataException($"Reserved samplingFrequencyIndex {index}.");
        }

        return (index, FrequencyTable[index]);
    }

    /// <summary>Table 1.18 index for a frequency, or -1 when it has none (ADTS cannot carry it).</summary>
    public static int FrequencyIndexOf(int frequency) => Array.IndexOf(FrequencyTable, frequency);
}
