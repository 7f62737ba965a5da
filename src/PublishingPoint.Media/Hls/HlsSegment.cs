namespace PublishingPoint.Media.Hls;

/// <summary>One media segment line of a media playlist, with the tags that precede it.</summary>
/// <param name="Sequence">Media sequence number: the segment's index since the stream began, never reused.</param>
/// <param name="Uri">Relative to the playlist.</param>
/// <param name="Discontinuity">EXT-X-DISCONTINUITY before this segment (the encoder restarted or skipped time).</param>
/// <param name="ProgramDateTime">Wall-clock time of the segment's first sample, when known.</param>
/// <param name="Parts">Its partial segments (EXT-X-PART, listed before its EXTINF) in a low-latency playlist.</param>
/// <param name="ByteRange">EXT-X-BYTERANGE: only these bytes of <paramref name="Uri"/> (an I-frame playlist's I-frame).</param>
/// <param name="Gap">EXT-X-GAP: the segment has no media (clients do not load it).</param>
public readonly record struct HlsSegment(long Sequence, TimeSpan Duration, string Uri, bool Discontinuity = false, DateTimeOffset? ProgramDateTime = null,
    IReadOnlyList<HlsPart>? Parts = null, HlsByteRange? ByteRange = null, bool Gap = false);

/// <summary>EXT-X-BYTERANGE:length@offset.</summary>
public readonly record struct HlsByteRange(long Length, long Offset);

/// <summary>One partial segment (RFC 8216bis 4.4.4.9 EXT-X-PART).</summary>
/// <param name="Independent">Starts with an independent frame (INDEPENDENT=YES).</param>
public readonly record struct HlsPart(TimeSpan Duration, string Uri, bool Independent);

/// <summary>EXT-X-RENDITION-REPORT: where another rendition's live edge is (its last segment and part).</summary>
public readonly record struct HlsRenditionReport(string Uri, long LastMediaSequence, int LastPart);
