namespace PublishingPoint.Media.IsoBmff;

public enum TrackKind
{
    Other,
    Video,
    Audio,
}

/// <summary>What a 'trak' of an initialization 'moov' says about one track.</summary>
public sealed record TrackInfo
{
    public required uint TrackId { get; init; }

    public required TrackKind Kind { get; init; }

    public required uint Timescale { get; init; }

    /// <summary>Sample entry type: avc1, avc3, mp4a, ...</summary>
    public required FourCC SampleEntry { get; init; }

    public int Width { get; init; }

    public int Height { get; init; }

    public int Channels { get; init; }

    public int SampleRate { get; init; }

    public int SampleSize { get; init; }

    /// <summary>The decoder configuration: the avcC record for H.264, the AudioSpecificConfig for AAC.</summary>
    public byte[] DecoderConfig { get; init; } = [];

    /// <summary>Average bitrate from 'btrt' or the esds DecoderConfigDescriptor; 0 when unknown.</summary>
    public int AverageBitrate { get; init; }

    /// <summary>ISO-639-2/T language from 'mdhd' ("und" when unset).</summary>
    public string Language { get; init; } = "und";

    /// <summary>'trex' defaults for this track from 'mvex'.</summary>
    public SampleDefaults Defaults { get; init; }

    /// <summary>The whole 'trak' box, to rebuild single-track initialization segments.</summary>
    public required ReadOnlyMemory<byte> TrakBox { get; init; }
}
