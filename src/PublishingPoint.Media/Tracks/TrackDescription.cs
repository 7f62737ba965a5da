using PublishingPoint.Media.Codecs.Aac;
using PublishingPoint.Media.Codecs.H264;
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
    public required TrackInfo Info
    {
        get;
        init
        {
            field = value;
            Avc = value.Kind == TrackKind.Video ? TryParse(value.DecoderConfig, AvcDecoderConfiguration.Parse) : null;
            Aac = value.Kind == TrackKind.Audio ? TryParse(value.DecoderConfig, AudioSpecificConfig.Parse) : null;
        }
    }

    /// <summary>The H.264 configuration, parsed once from <see cref="Info"/>; null for other codecs.</summary>
    public AvcDecoderConfiguration? Avc { get; private init; }

    /// <summary>The AAC configuration, parsed once from <see cref="Info"/>; null for other codecs.</summary>
    public AudioSpecificConfig? Aac { get; private init; }

    /// <summary>RFC 6381 codec string, or null when the codec is not one the outputs can name.</summary>
    public string? Codecs => Avc?.CodecString ?? Aac?.CodecString;

    /// <exception cref="InvalidDataException">The track is not H.264 video.</exception>
    public AvcDecoderConfiguration RequireAvc() =>
        Avc ?? throw new InvalidDataException($"track {Key} is not H.264 video with a readable avcC");

    /// <exception cref="InvalidDataException">The track is not AAC audio.</exception>
    public AudioSpecificConfig RequireAac() =>
        Aac ?? throw new InvalidDataException($"track {Key} is not AAC audio with a readable AudioSpecificConfig");

    /// <summary>Two feeds carry the same track when everything a decoder sees is the same.</summary>
    public bool SameMediaAs(TrackDescription other) =>
        other.Kind == Kind && other.Timescale == Timescale && other.FourCC == FourCC
        && string.Equals(other.CodecPrivateData, CodecPrivateData, StringComparison.OrdinalIgnoreCase);

    private delegate T Parser<out T>(ReadOnlySpan<byte> data);

    private static T? TryParse<T>(byte[] data, Parser<T> parse) where T : class
    {
        try
        {
            return data.Length == 0 ? null : parse(data);
        }
        catch (InvalidDataException)
        {
            return null;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }
}
