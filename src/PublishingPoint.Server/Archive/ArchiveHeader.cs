using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.Smooth;
using PublishingPoint.Media.Tracks;

namespace PublishingPoint.Server.Archive;

/// <summary>The start of an ingest (and of its archive file): ftyp, the optional ISML manifest, moov.</summary>
public sealed record ArchiveHeader
{
    /// <summary>The header boxes exactly as received, in order.</summary>
    public required ReadOnlyMemory<byte> Bytes { get; init; }

    /// <summary>The 'moov' box inside <see cref="Bytes"/>.</summary>
    public required ReadOnlyMemory<byte> Moov { get; init; }

    public required IReadOnlyList<TrackInfo> Tracks { get; init; }

    public required IReadOnlyList<ServerManifestTrack> Manifest { get; init; }

    /// <summary>How the point named each track of this header (set once the tracks are resolved).</summary>
    public IReadOnlyDictionary<uint, TrackDescription> Descriptions { get; init; } = new Dictionary<uint, TrackDescription>();

    /// <summary>The same media: the 'moov' byte for byte but for the clock readings in it (another archive file otherwise).</summary>
    public bool SameAs(ArchiveHeader other) => other is not null && MovieIdentity.SameMedia(Moov.Span, other.Moov.Span);

    /// <summary>A track's 'trex' sample defaults (default values when the 'moov' has no such track).</summary>
    public SampleDefaults SampleDefaultsOf(uint trackId)
    {
        foreach (var track in Tracks)
        {
            if (track.TrackId == trackId)
            {
                return track.Defaults;
            }
        }

        return default;
    }
}
