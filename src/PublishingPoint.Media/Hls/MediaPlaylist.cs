namespace PublishingPoint.Media.Hls;

/// <summary>What a media playlist (RFC 8216 4.3.3) says: a window of segments and how the player should treat it.</summary>
public sealed record MediaPlaylist
{
    /// <summary>3 for MPEG-TS with decimal EXTINF; 6 once EXT-X-MAP is used without I-frames-only.</summary>
    public int Version { get; init; } = 3;

    /// <summary>
    /// Lower bound for EXT-X-TARGETDURATION in seconds; the writer never writes less than the longest listed
    /// segment's EXTINF rounded to the nearest second. Pass the longest segment the whole presentation ever had (every
    /// rendition's) so the value is the same in every media playlist and does not change on reload.
    /// </summary>
    public int MinimumTargetDuration { get; init; }

    public long MediaSequence { get; init; }

    /// <summary>Discontinuities that have left the window (EXT-X-DISCONTINUITY-SEQUENCE).</summary>
    public long DiscontinuitySequence { get; init; }

    /// <summary>EXT-X-PLAYLIST-TYPE:VOD and EXT-X-ENDLIST: the list is complete and will not change.</summary>
    public bool IsVod { get; init; }

    /// <summary>EXT-X-MAP URI of the fMP4 initialization segment; null for MPEG-TS.</summary>
    public string? MapUri { get; init; }

    public bool IndependentSegments { get; init; } = true;

    /// <summary>EXT-X-I-FRAMES-ONLY (version 4): every entry is one I-frame, a byte range of a media segment.</summary>
    public bool IFramesOnly { get; init; }

    public required IReadOnlyList<HlsSegment> Segments { get; init; }

    /// <summary>EXT-X-DATERANGE tags of the events within the playlist's span.</summary>
    public IReadOnlyList<HlsDateRange> DateRanges { get; init; } = [];

    /// <summary>
    /// Low-latency HLS (RFC 8216bis): the longest a part may be (EXT-X-PART-INF PART-TARGET). Set, the playlist says
    /// EXT-X-SERVER-CONTROL (blocking reload, PART-HOLD-BACK of three part targets, HOLD-BACK of three target
    /// durations, CAN-SKIP-UNTIL of six) and lists parts, the preload hint and the rendition reports.
    /// </summary>
    public TimeSpan? PartTarget { get; init; }

    /// <summary>Parts of the segment being built (after the last complete segment).</summary>
    public IReadOnlyList<HlsPart> OpenParts { get; init; } = [];

    /// <summary>EXT-X-PRELOAD-HINT TYPE=PART: the URI of the next part.</summary>
    public string? PreloadHint { get; init; }

    public IReadOnlyList<HlsRenditionReport> RenditionReports { get; init; } = [];

    /// <summary>Segments left out at the head of a delta update (EXT-X-SKIP); <see cref="Segments"/> starts after them.</summary>
    public int SkippedSegments { get; init; }

    /// <summary>CAN-SKIP-UNTIL: how far from the live edge segments may be skipped in a delta update.</summary>
    public TimeSpan SkipBoundary => TimeSpan.FromSeconds(6 * TargetDuration);

    /// <summary>EXT-X-TARGETDURATION: whole seconds, at least every listed EXTINF rounded to the nearest second (RFC 8216 4.3.3.1).</summary>
    public int TargetDuration
    {
        get
        {
            var longest = TimeSpan.Zero;
            foreach (var segment in Segments)
            {
                longest = segment.Duration > longest ? segment.Duration : longest;
            }

            return Math.Max(Math.Max(RoundedSeconds(longest), MinimumTargetDuration), 1);
        }
    }

    /// <summary>
    /// A duration as a target duration must cover it: the EXTINF written (to the millisecond) rounded to the nearest
    /// second, half up. A 2.02 s segment needs 2, not 3: rounding up would add three seconds to every player's hold-back.
    /// </summary>
    public static int RoundedSeconds(TimeSpan duration)
    {
        var milliseconds = (duration.Ticks + (TimeSpan.TicksPerMillisecond / 2)) / TimeSpan.TicksPerMillisecond;
        return (int)((milliseconds + 500) / 1000);
    }
}
