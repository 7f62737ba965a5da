namespace PublishingPoint.Media.Hls;

/// <summary>One EXT-X-MEDIA TYPE=CLOSED-CAPTIONS (RFC 8216bis 4.4.6.1): a caption channel carried in the video's SEI.</summary>
public sealed record HlsCaptionRendition
{
    public required string GroupId { get; init; }

    public required string Name { get; init; }

    /// <summary>CC1 to CC4 (CEA-608) or SERVICE1 to SERVICE63 (CEA-708).</summary>
    public required string InstreamId { get; init; }

    public string? Language { get; init; }

    public bool IsDefault { get; init; } = true;
}
