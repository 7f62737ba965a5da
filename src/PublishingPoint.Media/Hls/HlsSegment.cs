namespace PublishingPoint.Media.Hls;

/// <summary>One media segment line of a media playlist, with the tags that precede it.</summary>
/// <param name="Sequence">Media sequence number: the segment's index since the stream began, never reused.</param>
/// <param name="Uri">Relative to the playlist.</param>
/// <param name="Discontinuity">EXT-X-DISCONTINUITY before this segment (the encoder restarted or skipped time).</param>
/// <param name="ProgramDateTime">Wall-clock time of the segment's first sample, when known.</param>
public readonly record struct HlsSegment(long Sequence, TimeSpan Duration, string Uri, bool Discontinuity = false, DateTimeOffset? ProgramDateTime = null);
