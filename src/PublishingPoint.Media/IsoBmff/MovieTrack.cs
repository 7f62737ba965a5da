using PublishingPoint.Media.Codecs.Aac;
using PublishingPoint.Media.Codecs.H264;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>
/// One track for <see cref="MovieWriter"/>: H.264 video (set <see cref="Avc"/>) or AAC audio (set <see cref="Aac"/>).
/// </summary>
public sealed record MovieTrack
{
    public required uint TrackId { get; init; }

    /// <summary>Media timescale of 'mdhd': e.g. 90000 for video, the sample rate for audio.</summary>
    public required uint Timescale { get; init; }

    public AvcDecoderConfiguration? Avc { get; init; }

    public AudioSpecificConfig? Aac { get; init; }

    /// <summary>Video size; 0 takes the cropped size from the SPS.</summary>
    public int Width { get; init; }

    public int Height { get; init; }

    /// <summary>Audio channel count; 0 takes it from the AudioSpecificConfig (2 when that defers to a PCE).</summary>
    public int Channels { get; init; }

    /// <summary>Audio sample rate; 0 takes it from the AudioSpecificConfig.</summary>
    public int SampleRate { get; init; }

    /// <summary>Written in 'btrt' (video) or the esds DecoderConfigDescriptor (audio); 0 when unknown.</summary>
    public int AverageBitrate { get; init; }

    public int MaxBitrate { get; init; }

    /// <summary>ISO-639-2/T code for 'mdhd'.</summary>
    public string Language { get; init; } = "und";

    public TrackKind Kind => Avc is not null ? TrackKind.Video : Aac is not null ? TrackKind.Audio : TrackKind.Other;
}
