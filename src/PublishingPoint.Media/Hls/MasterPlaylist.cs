namespace PublishingPoint.Media.Hls;

/// <summary>A master playlist (RFC 8216 4.3.4): the variants and the alternative audio they refer to.</summary>
public sealed record MasterPlaylist
{
    public int Version { get; init; } = 3;

    public bool IndependentSegments { get; init; } = true;

    public IReadOnlyList<HlsAudioRendition> Audio { get; init; } = [];

    public IReadOnlyList<HlsCaptionRendition> ClosedCaptions { get; init; } = [];

    public required IReadOnlyList<HlsVariant> Variants { get; init; }
}
