namespace PublishingPoint.Media.Hls;

/// <summary>One EXT-X-MEDIA TYPE=AUDIO rendition (RFC 8216 4.3.4.1).</summary>
public sealed record HlsAudioRendition
{
    public required string GroupId { get; init; }

    public required string Name { get; init; }

    /// <summary>RFC 5646 tag; null or "und" omits LANGUAGE.</summary>
    public string? Language { get; init; }

    public bool IsDefault { get; init; }

    public int Channels { get; init; }

    public required string Uri { get; init; }
}
