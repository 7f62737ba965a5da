namespace PublishingPoint.Media.Dash;

/// <summary>
/// What an MPD (ISO/IEC 23009-1 5.3.1) says, as far as a live origin needs: dynamic while live (a sliding
/// SegmentTimeline, clients refresh it), static once complete. <see cref="MpdWriter"/> writes it.
/// </summary>
public sealed record MediaPresentation
{
    public const string LiveProfile = "urn:mpeg:dash:profile:isoff-live:2011";
    public const string CmafProfile = "urn:mpeg:dash:profile:cmaf:2019";
    public const string LowLatencyProfile = "http://www.dashif.org/guidelines/low-latency-live-v5";

    /// <summary>type="dynamic": the timeline grows and the client refreshes the MPD; else type="static".</summary>
    public bool IsDynamic { get; init; }

    public IReadOnlyList<string> Profiles { get; init; } = [LiveProfile, CmafProfile];

    /// <summary>Wall clock of period time 0 (required when dynamic): the client's live edge is now minus this.</summary>
    public DateTimeOffset? AvailabilityStartTime { get; init; }

    /// <summary>When this version of the MPD was produced (required when dynamic).</summary>
    public DateTimeOffset? PublishTime { get; init; }

    /// <summary>How soon a dynamic MPD may change; null for a static MPD (it never does).</summary>
    public TimeSpan? MinimumUpdatePeriod { get; init; }

    /// <summary>How far behind the live edge segments stay available: the DVR window.</summary>
    public TimeSpan? TimeShiftBufferDepth { get; init; }

    public TimeSpan? SuggestedPresentationDelay { get; init; }

    public TimeSpan MinBufferTime { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Length of the whole presentation (static MPDs).</summary>
    public TimeSpan? MediaPresentationDuration { get; init; }

    /// <summary>ServiceDescription (DASH-IF low-latency): the latency a client should hold and how fast it may catch up.</summary>
    public DashServiceDescription? ServiceDescription { get; init; }

    /// <summary>UTCTiming elements, in order of preference: the clock the client syncs to.</summary>
    public IReadOnlyList<UtcTiming> UtcTimings { get; init; } = [];

    public required IReadOnlyList<DashPeriod> Periods { get; init; }
}

/// <summary>Latency target and bounds (milliseconds) and the playback rates a client may use to stay on it.</summary>
public sealed record DashServiceDescription(int TargetLatencyMs, int MinLatencyMs, int MaxLatencyMs, double MinPlaybackRate, double MaxPlaybackRate);

/// <summary>A UTCTiming descriptor, e.g. <see cref="HttpIso"/> with the URL of a time endpoint.</summary>
public sealed record UtcTiming(string SchemeIdUri, string Value)
{
    public const string HttpIso = "urn:mpeg:dash:utc:http-iso:2014";
    public const string HttpXsDate = "urn:mpeg:dash:utc:http-xsdate:2014";
}

public sealed record DashPeriod
{
    public string Id { get; init; } = "0";

    public TimeSpan Start { get; init; }

    public required IReadOnlyList<DashAdaptationSet> AdaptationSets { get; init; }

    /// <summary>EventStream elements (ISO/IEC 23009-1 5.10.2): events signalled in the MPD.</summary>
    public IReadOnlyList<DashEvents> EventStreams { get; init; } = [];
}

/// <summary>
/// An EventStream of one scheme. For SCTE-35 (<see cref="Scte35Scheme"/>, SCTE 214-1 / DASH-IF) each event carries the
/// splice_info_section in base64 as &lt;Signal&gt;&lt;Binary&gt;.
/// </summary>
public sealed record DashEvents(string SchemeIdUri, string? Value, long Timescale, long PresentationTimeOffset, IReadOnlyList<DashEvent> Events)
{
    public const string Scte35Scheme = "urn:scte:scte35:2014:xml+bin";
}

/// <summary>One Event: its time on the stream's timescale, its duration (null: unknown), id, and message.</summary>
public sealed record DashEvent(long PresentationTime, long? Duration, uint Id, byte[] Message);

public enum DashContentType
{
    Video,
    Audio,
}

public sealed record DashAdaptationSet
{
    public required int Id { get; init; }

    public required DashContentType ContentType { get; init; }

    public string MimeType => ContentType == DashContentType.Video ? "video/mp4" : "audio/mp4";

    /// <summary>RFC 5646 language, written when known.</summary>
    public string? Language { get; init; }

    /// <summary>Segment boundaries of every Representation coincide, so a client can switch at any of them.</summary>
    public bool SegmentAlignment { get; init; }

    /// <summary>Every segment starts with a stream access point of type 1 (an IDR picture for AVC).</summary>
    public int StartWithSap { get; init; } = 1;

    /// <summary>Role scheme value ("main"); null for none.</summary>
    public string? Role { get; init; } = "main";

    /// <summary>
    /// Closed captions in the video's SEI, as the SCTE 214-1 Accessibility value ("CC1=eng", "1=lang:eng"), with the
    /// scheme <see cref="Cea608Scheme"/> or <see cref="Cea708Scheme"/>; null for none.
    /// </summary>
    public (string Scheme, string Value)? Captions { get; init; }

    public const string Cea608Scheme = "urn:scte:dash:cc:cea-608:2015";

    /// <summary>InbandEventStream: the 'emsg' schemes (and values) the set's segments carry.</summary>
    public IReadOnlyList<(string Scheme, string Value)> InbandEvents { get; init; } = [];

    public const string Cea708Scheme = "urn:scte:dash:cc:cea-708:2015";

    public required IReadOnlyList<DashRepresentation> Representations { get; init; }
}

public sealed record DashRepresentation
{
    /// <summary>Unique in the period; substituted for $RepresentationID$ in segment URLs.</summary>
    public required string Id { get; init; }

    /// <summary>Bits per second the client needs to fetch segments as fast as they play (peak of the segments).</summary>
    public required long Bandwidth { get; init; }

    /// <summary>RFC 6381 codecs parameter.</summary>
    public required string Codecs { get; init; }

    public int Width { get; init; }

    public int Height { get; init; }

    /// <summary>Frames per second as DASH writes it: an integer or "num/den".</summary>
    public string? FrameRate { get; init; }

    /// <summary>Sample aspect ratio "w:h", when known.</summary>
    public string? Sar { get; init; }

    public int AudioSamplingRate { get; init; }

    /// <summary>AudioChannelConfiguration value (ISO/IEC 23003-3 scheme); 0 writes none.</summary>
    public int AudioChannels { get; init; }

    public required DashSegmentTemplate SegmentTemplate { get; init; }
}

/// <summary>
/// A SegmentTemplate with a SegmentTimeline. Segment times are in the segments' own timeline (what their 'tfdt'
/// and sample times say); <see cref="PresentationTimeOffset"/> is the media time at period start.
/// </summary>
public sealed record DashSegmentTemplate
{
    public required uint Timescale { get; init; }

    public long PresentationTimeOffset { get; init; }

    /// <summary>$Number$ of the first segment of <see cref="Segments"/>.</summary>
    public long StartNumber { get; init; } = 1;

    public required string Initialization { get; init; }

    public required string Media { get; init; }

    /// <summary>
    /// Low-latency DASH: how many seconds before its end a segment may be asked for (it is sent as it grows), with
    /// availabilityTimeComplete="false"; null for neither.
    /// </summary>
    public double? AvailabilityTimeOffset { get; init; }

    /// <summary>The segments in time order; the writer folds them into S elements with @r.</summary>
    public required IReadOnlyList<DashSegment> Segments { get; init; }

    /// <summary>
    /// Each segment's $Number$, when they do not run on from <see cref="StartNumber"/> (an encoder's outage left a
    /// gap): written as a SegmentList naming every segment. Null for a SegmentTemplate.
    /// </summary>
    public IReadOnlyList<long>? Numbers { get; init; }

    /// <summary>The $Number$ of segment <paramref name="index"/> of <see cref="Segments"/>.</summary>
    public long NumberAt(int index) => Numbers is { } numbers ? numbers[index] : StartNumber + index;

    /// <summary>The template without its first <paramref name="count"/> segments (a SegmentTemplate again when the rest run on).</summary>
    public DashSegmentTemplate WithoutFirst(int count)
    {
        if (count == 0)
        {
            return this;
        }

        var numbers = Numbers?.Skip(count).ToArray();
        return this with
        {
            StartNumber = NumberAt(count),
            Segments = [.. Segments.Skip(count)],
            Numbers = numbers is { Length: > 0 } && numbers[^1] - numbers[0] != numbers.Length - 1 ? numbers : null,
        };
    }
}

/// <summary>One segment: its earliest presentation time and duration, in the template's timescale.</summary>
public readonly record struct DashSegment(long Time, long Duration);
