namespace PublishingPoint.Media.Hls;

/// <summary>One EXT-X-STREAM-INF of a master playlist (RFC 8216 4.3.4.2).</summary>
public sealed record HlsVariant
{
    /// <summary>Peak segment bit rate in bits per second, every rendition of the variant included.</summary>
    public required long Bandwidth { get; init; }

    public long AverageBandwidth { get; init; }

    /// <summary>RFC 6381 codecs of everything the variant plays, e.g. "avc1.64001e,mp4a.40.2".</summary>
    public required string Codecs { get; init; }

    public int Width { get; init; }

    public int Height { get; init; }

    /// <summary>Maximum frame rate; 0 when unknown.</summary>
    public double FrameRate { get; init; }

    /// <summary>GROUP-ID of the EXT-X-MEDIA TYPE=AUDIO renditions this variant plays with; null when audio is muxed.</summary>
    public string? AudioGroup { get; init; }

    /// <summary>
    /// CLOSED-CAPTIONS: the GROUP-ID of the EXT-X-MEDIA TYPE=CLOSED-CAPTIONS renditions, <see cref="NoClosedCaptions"/>
    /// when the variant carries none, or null to leave the attribute out.
    /// </summary>
    public string? ClosedCaptions { get; init; }

    /// <summary>CLOSED-CAPTIONS=NONE (an enumerated string, unquoted).</summary>
    public const string NoClosedCaptions = "NONE";

    public required string Uri { get; init; }
}
