namespace PublishingPoint.Media.Hls;

/// <summary>
/// EXT-X-DATERANGE (RFC 8216bis 4.4.5.1): a timed event of the stream, such as a SCTE-35 cue (4.4.5.1.1).
/// </summary>
/// <param name="Scte35Attribute">SCTE35-OUT, SCTE35-IN or SCTE35-CMD; null for an event that is not a SCTE-35 cue.</param>
/// <param name="Scte35">The splice_info_section, written as a hexadecimal-sequence.</param>
/// <param name="Class">CLASS: the event's scheme for events that are not SCTE-35.</param>
public readonly record struct HlsDateRange(string Id, DateTimeOffset StartDate, TimeSpan? Duration, string? Scte35Attribute, byte[]? Scte35, string? Class = null);
