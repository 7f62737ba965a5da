namespace PublishingPoint.Media.Hls;

/// <summary>A master playlist (RFC 8216 4.3.4): the variants and the alternative audio they refer to.</summary>
public sealed record MasterPlaylist
{
    public int Version { get; init; } = 3;

    public bool IndependentSegments { get; init; } = true;

    public IReadOnlyList<HlsAudioRendition> Audio { get; init; } = [];

    public IReadOnlyList<HlsCaptionRendition> ClosedCaptions { get; init; } = [];

    /// <summary>EXT-X-I-FRAME-STREAM-INF: one I-frame playlist per video variant (URI is the I-frame playlist).</summary>
    public IReadOnlyList<HlsVariant> IFrameStreams { get; init; } = [];

    public required IReadOnlyList<HlsVariant> Variants { get; init; }
}
