using PublishingPoint.Media.IsoBmff;

namespace PublishingPoint.Media.Tracks;

/// <summary>Everything a manifest says about a track, gathered from the encoder's SMIL and 'moov'.</summary>
public sealed record TrackDescription
{
    public required TrackKey Key { get; init; }

    public required TrackKind Kind { get; init; }

    public required uint Timescale { get; init; }

    /// <summary>Smooth FourCC: H264, AVC1, AACL, ...</summary>
    public required string FourCC { get; init; }

    /// <summary>Hex as a Smooth client manifest carries it.</summary>
    public required string CodecPrivateData { get; init; }

    public int Width { get; init; }

    public int Height { get; init; }

    public int SamplingRate { get; init; }

    public int Channels { get; init; }

    public int BitsPerSample { get; init; }

    public int PacketSize { get; init; }

    public int AudioTag { get; init; }

    public string Language { get; init; } = "und";

    /// <summary>The encoder's 'trak' for this track: the base of its initialization segment.</summary>
    public required TrackInfo Info { get; init; }

    /// <summary>Two feeds carry the same track when everything a decoder sees is the same.</summary>
    public bool SameMediaAs(TrackDescription other) =>
        other.Kind == Kind && other.Timescale == Timescale && other.FourCC == FourCC
        && string.Equals(other.CodecPrivateData, CodecPrivateData, StringComparison.OrdinalIgnoreCase);
}
