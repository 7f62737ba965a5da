using System.Globalization;
using PublishingPoint.Media.Codecs.H264;
using PublishingPoint.Media.Dash;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.Timing;
using PublishingPoint.Server.Delivery.Hls;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery.Dash;

/// <summary>
/// Builds a point's MPD over the CMAF segments HLS already serves (<c>hls/{name}-{bitrate}/init.mp4</c> and
/// <c>hls/{name}-{bitrate}/{n}.m4s</c>, n the fragment's number from media time = $Number$).
/// <para>
/// Timing: a segment's samples carry their ingest times lifted by <see cref="HlsPackager.TimeOffsetSeconds"/>,
/// so S@t is the fragment's time plus that lift, and presentationTimeOffset is the lift plus the point's
/// origin: media time 0 for a point first presented live (so every origin agrees), else its earliest media time.
/// Period time 0 is the origin while live; a static MPD moves it to its first listed segment. The wall clock of period time 0,
/// availabilityStartTime, is the HLS anchor (wall clock of media time 0) plus the origin, so DASH and HLS
/// (EXT-X-PROGRAM-DATE-TIME) place every sample at the same instant.
/// </para>
/// </summary>
internal static class DashManifestBuilder
{
    private const string Initialization = "hls/$RepresentationID$/init.mp4";
    private const string Media = "hls/$RepresentationID$/$Number$.m4s";

    // A static MPD names segments by time: its timeline lists every kept segment, across gaps in their numbering
    // (an encoder that came back after an outage), which $Number$ cannot bridge.
    private const string TimedMedia = "hls/$RepresentationID$/t$Time$.m4s";

    /// <summary>Where period time 0 is, in 100 ns ticks of media time (see the class); null before any fragment.</summary>
    public static long? Origin(Point point)
    {
        if (point.State != PointState.Vod && point.Tracks().Any(t => t.Count > 0))
        {
            return 0; // live: media time 0, the same on every origin whenever it joined
        }

        return point.EarliestMediaTicks();
    }

    /// <summary>The MPD, or null while the point has no video or audio to play.</summary>
    /// <param name="byNumber">Segments named by number in a static MPD too (a store holds them under their numbers only).</param>
    /// <param name="publishTime">A live MPD's publishTime (<see cref="Point.PublishTime"/>); <paramref name="now"/> without one.</param>
    public static MediaPresentation? Build(Point point, long windowSeconds, DateTimeOffset anchor, long originTicks, DateTimeOffset now, string timeUrl, TimeShift? shift = null, bool byNumber = false, DateTimeOffset? publishTime = null)
    {
        var live = shift?.SeesLive(point) ?? point.State != PointState.Vod;
        if (shift is { ToSeconds: { } requestedEnd }
            && point.MediaEndSeconds() >= requestedEnd)
        {
            live = false; // the requested end has been reached: a static presentation
        }

        var extent = new Extent { PointEdgeTicks = PointEdge(point) };
        var sets = new List<DashAdaptationSet>();
        TemplateOf select = track => Template(track, live, live || byNumber, windowSeconds, originTicks, extent, shift);
        if (VideoSet(point, select) is { } videoSet)
        {
            sets.Add(videoSet);
        }

        sets.AddRange(AudioSets(point, select));
        if (sets.Count == 0)
        {
            return null;
        }

        // The longest segment, to the millisecond: how often a live MPD changes and the buffering it needs.
        var segment = TimeSpan.FromMilliseconds(Math.Max(1000, Math.Ceiling(extent.Longest * 1000)));
        var stretches = live ? [] : OutagePeriods.Stretches(sets);
        if (stretches.Count > 1)
        {
            return new MediaPresentation
            {
                MediaPresentationDuration = TimeSpan.FromTicks(stretches.Sum(s => s.To - s.From)),
                MinBufferTime = segment,
                Periods = OutagePeriods.Split(sets, stretches, EventStreams(point, originTicks, sets), HlsPackager.TimeOffsetSeconds * TimeSpan.TicksPerSecond),
            };
        }

        var lead = live ? 0 : StartAtFirstSegment(sets);
        var period = new DashPeriod { AdaptationSets = sets, EventStreams = EventStreams(point, originTicks + lead, sets) };
        var (availabilityStart, depth) = Availability(anchor + TimeSpan.FromTicks(originTicks), windowSeconds, now, shift, extent, segment);
        return live
            ? new MediaPresentation
            {
                IsDynamic = true,
                AvailabilityStartTime = availabilityStart,
                PublishTime = publishTime ?? now,
                MinimumUpdatePeriod = segment,
                TimeShiftBufferDepth = depth,
                SuggestedPresentationDelay = 3 * segment,
                MinBufferTime = segment,
                UtcTimings = [new UtcTiming(UtcTiming.HttpIso, timeUrl)],
                Periods = [period],
                ServiceDescription = LowLatency(sets) ? ServiceDescription(point) : null,
                Profiles = LowLatency(sets)
                    ? [MediaPresentation.LiveProfile, MediaPresentation.CmafProfile, MediaPresentation.LowLatencyProfile]
                    : [MediaPresentation.LiveProfile, MediaPresentation.CmafProfile],
            }
            : new MediaPresentation
            {
                MediaPresentationDuration = TimeSpan.FromSeconds(extent.End) - TimeSpan.FromTicks(lead),
                MinBufferTime = segment,
                Periods = [period],
            };
    }

    private delegate DashSegmentTemplate? TemplateOf(Track track);

    /// <summary>
    /// A static presentation starts where its first listed segment does: the origin a live point keeps (media time 0)
    /// put an encoder's wall-clock or epoch times, or a window's late start, that far into the period, and players
    /// start a static MPD at its period's start (dash.js then walked the empty lead-in in 0.3 s steps, ffprobe reported
    /// it as duration). Each representation's presentationTimeOffset moves by the same lead, rounded down in its own
    /// timescale, so no first segment starts before 0 and audio and video keep their places; the lead in 100 ns ticks.
    /// </summary>
    private static long StartAtFirstSegment(List<DashAdaptationSet> sets)
    {
        var lead = long.MaxValue;
        foreach (var template in sets.SelectMany(s => s.Representations).Select(r => r.SegmentTemplate))
        {
            lead = Math.Min(lead, RescaleDown(Math.Max(0, template.Segments[0].Time - template.PresentationTimeOffset), template.Timescale, TimeSpan.TicksPerSecond));
        }

        if (lead is 0 or long.MaxValue)
        {
            return 0;
        }

        for (var i = 0; i < sets.Count; i++)
        {
            sets[i] = sets[i] with
            {
                Representations = [.. sets[i].Representations.Select(r => r with
                {
                    SegmentTemplate = r.SegmentTemplate with { PresentationTimeOffset = r.SegmentTemplate.PresentationTimeOffset + RescaleDown(lead, TimeSpan.TicksPerSecond, r.SegmentTemplate.Timescale) },
                })],
            };
        }

        return lead;
    }

    /// <summary>
    /// A static MPD whose first segments were taken off after it was built (the store's windowed VOD keeps only the last
    /// window): period time 0 moves to the first segment left, as <see cref="StartAtFirstSegment"/> does, and the
    /// duration shrinks by as much. A dynamic MPD, or one of several Periods, is returned as it is.
    /// </summary>
    internal static MediaPresentation StartAtFirstListed(MediaPresentation mpd)
    {
        if (mpd.IsDynamic || mpd.Periods is not [var period] || mpd.MediaPresentationDuration is not { } duration
            || !period.AdaptationSets.SelectMany(s => s.Representations).Any()
            || period.AdaptationSets.SelectMany(s => s.Representations).Any(r => r.SegmentTemplate.Segments.Count == 0))
        {
            return mpd;
        }

        // Where every representation has media (the renditions' windows were kept from their own first segments):
        // a representation's segments that end by then are left out.
        var common = period.AdaptationSets.SelectMany(s => s.Representations).Max(r => OutagePeriods.Ticks(r.SegmentTemplate.Segments[0].Time, r.SegmentTemplate.Timescale));
        var sets = period.AdaptationSets.Select(s => s with
        {
            Representations = [.. s.Representations.Select(r =>
            {
                var template = r.SegmentTemplate;
                var skip = 0;
                while (skip < template.Segments.Count - 1 && OutagePeriods.Ticks(template.Segments[skip].Time + template.Segments[skip].Duration, template.Timescale) <= common)
                {
                    skip++;
                }

                return r with { SegmentTemplate = template.WithoutFirst(skip) };
            })],
        }).ToList();
        var lead = StartAtFirstSegment(sets);
        return mpd with
        {
            MediaPresentationDuration = duration - TimeSpan.FromTicks(lead),
            Periods = [period with { AdaptationSets = sets, EventStreams = [.. period.EventStreams.Select(e => e with { PresentationTimeOffset = e.PresentationTimeOffset + lead })] }],
        };
    }

    private static long RescaleDown(long value, long from, long to) => (long)((Int128)value * to / from);

    /// <summary>
    /// A shifted live MPD's clock: with a delay, its availability starts that much later, so its "now" is the delayed
    /// edge it lists up to (players aim a little behind "now"; on the real clock that was past its last segment); with a
    /// start, its time-shift buffer reaches back to its first segment (a buffer of the DVR window put the start-over's
    /// beginning out of a player's reach).
    /// </summary>
    private static (DateTimeOffset Start, TimeSpan Depth) Availability(DateTimeOffset start, long windowSeconds, DateTimeOffset now, TimeShift? shift, Extent extent, TimeSpan segment)
    {
        var depth = TimeSpan.FromSeconds(windowSeconds);
        if (shift is not { IsNone: false })
        {
            return (start, depth);
        }

        start += TimeSpan.FromSeconds(shift.DelaySeconds);
        if (extent.First < double.MaxValue)
        {
            var reach = TimeSpan.FromSeconds(Math.Ceiling((now - start).TotalSeconds - extent.First)) + segment;
            depth = reach > depth ? reach : depth;
        }

        return (start, depth);
    }

    /// <summary>The longest segment, the start of the first listed one and the end of the presentation (seconds), over every representation.</summary>
    private sealed class Extent
    {
        public double Longest;
        public double First = double.MaxValue;
        public double End;

        /// <summary>Where the point's furthest track ends (100 ns ticks): a live representation far behind it has stopped.</summary>
        public long PointEdgeTicks;
    }

    private static long PointEdge(Point point)
    {
        var edge = long.MinValue;
        foreach (var track in point.Tracks())
        {
            if (track.Last is { } last)
            {
                edge = Math.Max(edge, Timescale.Rescale(last.End, track.Description.Timescale, TimeSpan.TicksPerSecond));
            }
        }

        return edge;
    }

    /// <summary>One video AdaptationSet with a Representation per video track, lowest bandwidth first (where players start).</summary>
    private static DashAdaptationSet? VideoSet(Point point, TemplateOf select)
    {
        var video = new List<(DashRepresentation Representation, long[] Times)>();
        foreach (var track in point.Tracks())
        {
            if (track.Description.Kind == TrackKind.Video && select(track) is { } template)
            {
                video.Add((VideoRepresentation(track, template), [.. template.Segments.Select(s => Timescale.Rescale(s.Time, template.Timescale, TimeSpan.TicksPerSecond))]));
            }
        }

        if (video.Count == 0)
        {
            return null;
        }

        video.Sort((a, b) => a.Representation.Bandwidth.CompareTo(b.Representation.Bandwidth));
        return new DashAdaptationSet
        {
            Id = 0,
            ContentType = DashContentType.Video,
            Captions = CaptionsOf(point),
            // The timed events video segments carry as 'emsg' (HlsPackager.EventBoxes): every scheme but SCTE-35.
            InbandEvents = [.. point.Events().Where(e => e.Scheme != TimedEvent.Scte35Scheme).Select(e => (e.Scheme, e.Value)).Distinct()],
            SegmentAlignment = Aligned([.. video.Select(v => v.Times)]),
            Representations = [.. video.Select(v => v.Representation)],
        };
    }

    /// <summary>
    /// The point's SCTE-35 cues as an EventStream (SCTE 214-1): media ticks on a 10 MHz timescale with the period's
    /// origin as presentationTimeOffset, so an event is placed where its media is.
    /// </summary>
    // The cues that touch the listed segments (a live MPD's window, not the whole archive's 4,096).
    private static DashEvents[] EventStreams(Point point, long originTicks, List<DashAdaptationSet> sets)
    {
        var from = long.MaxValue;
        foreach (var template in sets.SelectMany(s => s.Representations).Select(r => r.SegmentTemplate))
        {
            if (template.Segments.Count > 0)
            {
                from = Math.Min(from, OutagePeriods.Ticks(template.Segments[0].Time, template.Timescale) - (HlsPackager.TimeOffsetSeconds * TimeSpan.TicksPerSecond));
            }
        }

        // And the newest cue before them (a break's out of unknown length, a time_signal): a player joining mid-break sees it.
        var scte = point.Events().Where(e => e.Scheme == TimedEvent.Scte35Scheme).ToList();
        var first = scte.FindIndex(e => e.StartTicks + (e.DurationTicks ?? 0) >= from);
        var before = first < 0 ? scte.Count - 1 : first - 1;
        var cues = scte.Where((e, i) => i >= before && (i == before || e.StartTicks + (e.DurationTicks ?? 0) >= from))
            .Select(e => new DashEvent(e.StartTicks, e.DurationTicks, e.Id, e.Message)).ToArray();
        return cues.Length == 0 ? [] : [new DashEvents(DashEvents.Scte35Scheme, null, TimeSpan.TicksPerSecond, originTicks, cues)];
    }

    // SCTE 214-1: CEA-608 as "CCn=lang", CEA-708 as "n=lang:lang"; the language is not signalled in cc_data.
    private static (string Scheme, string Value)? CaptionsOf(Point point)
    {
        var kinds = point.Tracks().Aggregate(CaptionKinds.None, (all, t) => all | t.Captions);
        return CaptionSei.InstreamId(kinds) switch
        {
            null => null,
            ['S', ..] => (DashAdaptationSet.Cea708Scheme, "1=lang:und"),
            var channel => (DashAdaptationSet.Cea608Scheme, $"{channel}=und"),
        };
    }

    /// <summary>An audio AdaptationSet per language, each with the id the point gave its language (stable across updates).</summary>
    private static IEnumerable<DashAdaptationSet> AudioSets(Point point, TemplateOf select)
    {
        var audio = new List<(string Language, DashRepresentation Representation)>();
        foreach (var track in point.Tracks())
        {
            if (track.Description.Kind == TrackKind.Audio && select(track) is { } template)
            {
                audio.Add((track.Description.Language, AudioRepresentation(track, template)));
            }
        }

        foreach (var language in audio.GroupBy(a => a.Language, StringComparer.Ordinal).OrderBy(g => point.AudioSetId(g.Key)))
        {
            yield return new DashAdaptationSet
            {
                Id = point.AudioSetId(language.Key),
                ContentType = DashContentType.Audio,
                Language = language.Key is { Length: > 0 } and not "und" ? language.Key : null,
                SegmentAlignment = true,
                Representations = [.. language.Select(a => a.Representation).OrderBy(r => r.Bandwidth)],
            };
        }
    }

    private static bool LowLatency(List<DashAdaptationSet> sets) =>
        sets.Any(s => s.Representations.Any(r => r.SegmentTemplate.AvailabilityTimeOffset is not null));

    /// <summary>Half a segment, in whole seconds: how long a live MPD may be cached.</summary>
    public static int LiveMaxAge(MediaPresentation mpd) => (int)((mpd.MinimumUpdatePeriod ?? TimeSpan.Zero).TotalSeconds / 2);

    /// <summary>The track's segments (the live window, or all of them) as a template; null when it has none.</summary>
    private static DashSegmentTemplate? Template(Track track, bool live, bool byNumber, long windowSeconds, long originTicks, Extent extent, TimeShift? shift)
    {
        var unshifted = shift is null or { IsNone: true };
        var window = windowSeconds * track.Description.Timescale;
        var behind = track.Last is { } newest ? extent.PointEdgeTicks - Timescale.Rescale(newest.End, track.Description.Timescale, TimeSpan.TicksPerSecond) : 0;
        if (live && unshifted && behind > windowSeconds * TimeSpan.TicksPerSecond)
        {
            // Its encoder stopped a window ago: none of its segments is in the time-shift buffer any more, and a player
            // that picked it would wait at the live edge for segments that never come.
            return null;
        }

        var whole = true;
        var fragments = live && unshifted ? track.LiveTail(window, long.MaxValue, out _, out var openParts, out whole) : track.Snapshot(out _, out openParts);
        var (count, start) = Listed(fragments, track.Description.Timescale, live, byNumber, window, shift);
        if (live && unshifted && !whole && start == 0)
        {
            fragments = track.Snapshot(out _, out openParts);
            (count, start) = Listed(fragments, track.Description.Timescale, live, byNumber, window, shift);
        }

        if (count == start)
        {
            return null;
        }

        var timescale = track.Description.Timescale;
        var lift = HlsPackager.TimeOffsetSeconds * timescale;
        var segments = new List<DashSegment>(count - start);
        var numbers = new List<long>(byNumber ? count - start : 0);
        for (var i = start; i < count; i++)
        {
            var duration = HlsTimeline.End(fragments, i) - fragments[i].Time;
            extent.Longest = Math.Max(extent.Longest, (double)duration / timescale);
            // A segment lost to failed fsyncs leaves a hole in a static timeline (players skip it); a live one's numbers run on.
            if (live || !fragments[i].Lost)
            {
                segments.Add(new DashSegment(fragments[i].Time + lift, duration));
                if (byNumber)
                {
                    numbers.Add(fragments[i].Sequence);
                }
            }
        }

        if (segments.Count == 0)
        {
            return null;
        }

        var origin = Timescale.Rescale(originTicks, TimeSpan.TicksPerSecond, timescale);
        extent.First = Math.Min(extent.First, (double)(fragments[start].Time - origin) / timescale);
        extent.End = Math.Max(extent.End, (double)(HlsTimeline.End(fragments, count - 1) - origin) / timescale);
        var template = new DashSegmentTemplate
        {
            Timescale = timescale,
            PresentationTimeOffset = lift + origin,
            // Unused by $Time$ names, but ffmpeg's reader counts a timeline's segments from startNumber when it walks
            // one by time (it skipped the first segment and asked for one past the last with startNumber 1).
            StartNumber = byNumber ? numbers[0] : 0,
            Initialization = Initialization,
            Media = byNumber ? Media : TimedMedia,
            Segments = segments,
            // A static MPD by number (a store's) across an outage: the run before it is listed too, each segment by its URL.
            Numbers = byNumber && !live && !RunsOn(numbers) ? numbers : null,
        };
        // The segment being built only while the track is fed (within three segments of the point's edge).
        return live && shift is null or { IsNone: true } && count == fragments.Length && track.LongestPart > 0
            && behind <= 3 * Timescale.Rescale(fragments[^1].Duration, track.Description.Timescale, TimeSpan.TicksPerSecond)
            ? LowLatency(template, fragments, openParts, track.LongestPart, timescale)
            : template;
    }

    private static bool RunsOn(List<long> numbers)
    {
        for (var i = 1; i < numbers.Count; i++)
        {
            if (numbers[i] != numbers[i - 1] + 1)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The segments of <paramref name="fragments"/> a template lists, [start, count): the live window (or a time-shift),
    /// while live by number from the last gap in numbering on, because $Number$ counts on from StartNumber (a static
    /// MPD lists across gaps: by $Time$, or by number as a SegmentList).
    /// </summary>
    private static (int Count, int Start) Listed(FragmentEntry[] fragments, long timescale, bool live, bool byNumber, long window, TimeShift? shift)
    {
        var count = fragments.Length;
        var start = live ? HlsTimeline.WindowStart(fragments, count, window) : 0;
        if (shift is { IsNone: false })
        {
            var (from, to, _) = shift.Select(fragments, count, timescale);
            count = to;
            start = Math.Min(count, from ?? (live ? HlsTimeline.WindowStart(fragments, count, window) : 0));
        }

        return (count, byNumber && live ? Math.Max(start, HlsTimeline.AfterLastGap(fragments, count)) : start);
    }

    /// <summary>
    /// Low-latency DASH: the segment being built is in the timeline with the length of the last one, asked for once its
    /// first part can be (availabilityTimeOffset = that length less a part) and sent as its parts arrive.
    /// </summary>
    private static DashSegmentTemplate LowLatency(DashSegmentTemplate template, FragmentEntry[] fragments, PartEntry[] openParts, long longestPart, long timescale)
    {
        var last = template.Segments[^1];
        var expected = Math.Max(last.Duration, openParts.Sum(p => p.Duration));
        var open = new DashSegment(last.Time + last.Duration, expected);
        return template with
        {
            Segments = [.. template.Segments, open],
            AvailabilityTimeOffset = Math.Max(0, (double)(expected - longestPart) / timescale),
        };
    }

    /// <summary>The latency a low-latency client should hold: a little over three parts behind the edge, within 1 to 6 s.</summary>
    internal static DashServiceDescription ServiceDescription(Point point)
    {
        var part = point.Tracks().Select(t => (double)t.LongestPart / t.Description.Timescale).DefaultIfEmpty(0).Max();
        var target = (int)Math.Clamp(Math.Ceiling((part * 3) + 0.9) * 1000, 1500, 6000);
        return new DashServiceDescription(target, 500, 6000, 0.96, 1.04);
    }

    private static DashRepresentation VideoRepresentation(Track track, DashSegmentTemplate template)
    {
        var avc = track.Description.RequireAvc();
        var sps = avc.Sps;
        return new DashRepresentation
        {
            Id = HlsPlaylistBuilder.Name(track.Key),
            Bandwidth = Bandwidth(track),
            Codecs = avc.CodecString,
            Width = avc.Width,
            Height = avc.Height,
            FrameRate = FrameRate(sps, track),
            Sar = sps.SarWidth > 0 && sps.SarHeight > 0 ? string.Create(CultureInfo.InvariantCulture, $"{sps.SarWidth}:{sps.SarHeight}") : null,
            SegmentTemplate = template,
        };
    }

    /// <summary>The highest bit rate of any of the track's fragments so far (nominal before any), stable as the window slides.</summary>
    private static long Bandwidth(Track track) => (long)Math.Ceiling(Math.Max(track.PeakBitsPerSecond, track.Key.Bitrate));

    private static DashRepresentation AudioRepresentation(Track track, DashSegmentTemplate template)
    {
        var asc = track.Description.RequireAac();
        var rate = asc.SbrPresent && asc.ExtensionSamplingFrequency > 0 ? asc.ExtensionSamplingFrequency : asc.SamplingFrequency;
        return new DashRepresentation
        {
            Id = HlsPlaylistBuilder.Name(track.Key),
            Bandwidth = Bandwidth(track),
            Codecs = asc.CodecString,
            AudioSamplingRate = rate > 0 ? rate : track.Description.SamplingRate,
            AudioChannels = asc.ChannelCount > 0 ? asc.ChannelCount : track.Description.Channels,
            SegmentTemplate = template,
        };
    }

    /// <summary>Frames per second as a reduced fraction: the SPS timing (two VUI ticks per frame), else the fragments'.</summary>
    private static string? FrameRate(SequenceParameterSet sps, Track track)
    {
        long numerator, denominator;
        if (sps.HasTimingInfo)
        {
            (numerator, denominator) = (sps.TimeScale, 2L * sps.NumUnitsInTick);
        }
        else if (track.Last is { Duration: > 0 } last)
        {
            (numerator, denominator) = (last.SampleCount * (long)track.Description.Timescale, last.Duration);
        }
        else
        {
            return null;
        }

        var gcd = (long)System.Numerics.BigInteger.GreatestCommonDivisor(numerator, denominator);
        (numerator, denominator) = (numerator / gcd, denominator / gcd);
        return denominator == 1
            ? numerator.ToString(CultureInfo.InvariantCulture)
            : string.Create(CultureInfo.InvariantCulture, $"{numerator}/{denominator}");
    }

    /// <summary>True when every segment start of one rendition, inside the span all of them cover, is one of each other's.</summary>
    private static bool Aligned(long[][] times)
    {
        if (times.Length < 2)
        {
            return true;
        }

        var from = times.Max(t => t[0]);
        var to = times.Min(t => t[^1]);
        var reference = times[0].Where(t => t >= from && t <= to).ToArray();
        foreach (var other in times.Skip(1))
        {
            if (!reference.SequenceEqual(other.Where(t => t >= from && t <= to)))
            {
                return false;
            }
        }

        return true;
    }
}
