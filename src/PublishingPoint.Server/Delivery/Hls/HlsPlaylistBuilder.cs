using System.Globalization;
using PublishingPoint.Media.Codecs.H264;
using PublishingPoint.Media.Hls;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.Scte35;
using PublishingPoint.Media.Timing;
using PublishingPoint.Media.Tracks;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery.Hls;

/// <summary>Builds master and media playlists from a point's tracks (URIs as <see cref="HlsDelivery"/> routes them).</summary>
internal static class HlsPlaylistBuilder
{
    public const string AudioGroup = "audio";

    public const string CaptionGroup = "cc";

    // Transport stream packetisation (188/184, PES headers, PSI, CC padding) on top of the fragment bytes.
    private const double TsOverhead = 1.1;

    // Behind the point's edge by this much (or three of its fragments) an audio track has stopped: its encoder is gone.
    private const long StoppedAfter = 6 * TimeSpan.TicksPerSecond;

    public static string Name(TrackKey key) => string.Create(CultureInfo.InvariantCulture, $"{key.Name}-{key.Bitrate}");

    public static string PlaylistName(TrackKey key, HlsFormat format) => Name(key) + (format == HlsFormat.Fmp4 ? "-fmp4.m3u8" : ".m3u8");

    public static string IFramePlaylistName(TrackKey key, HlsFormat format) => Name(key) + (format == HlsFormat.Fmp4 ? "-iframes-fmp4.m3u8" : "-iframes.m3u8");

    /// <summary>
    /// The audio muxed into TS variants and offered to fMP4 variants: the point's first audio track (highest bit rate)
    /// that is still fed, else its first. With one encoder per bit rate each bringing its own audio, the first one's
    /// stopping froze every TS variant (each segment waits for the audio through its end) and left fMP4 players on a
    /// rendition that no longer grows.
    /// </summary>
    public static Track? AudioOf(Point point)
    {
        var tracks = point.Tracks();
        var edge = EdgeTicks(tracks);
        Track? first = null;
        foreach (var track in tracks)
        {
            if (track.Description.Kind == TrackKind.Audio && track.Last is { } last)
            {
                first ??= track;
                if (IsStillFed(track, last, edge))
                {
                    return track;
                }
            }
        }

        return first;
    }

    /// <summary>Where the newest media of any of <paramref name="tracks"/> ends (100 ns ticks).</summary>
    internal static long EdgeTicks(Track[] tracks)
    {
        var edge = long.MinValue;
        foreach (var track in tracks)
        {
            if (track.Last is { } last)
            {
                edge = Math.Max(edge, Timescale.Rescale(last.End, track.Description.Timescale, TimeSpan.TicksPerSecond));
            }
        }

        return edge;
    }

    /// <summary>Whether <paramref name="track"/>, whose newest fragment is <paramref name="last"/>, is within three fragments or 6 s of the <paramref name="edge"/>.</summary>
    internal static bool IsStillFed(Track track, FragmentEntry last, long edge)
    {
        var end = Timescale.Rescale(last.End, track.Description.Timescale, TimeSpan.TicksPerSecond);
        var duration = Timescale.Rescale(last.Duration, track.Description.Timescale, TimeSpan.TicksPerSecond);
        return edge - end <= Math.Max(3 * duration, StoppedAfter);
    }

    /// <param name="windowSeconds">The live window the rates are measured over; 0 for all the media (VOD).</param>
    /// <param name="iFrames">List the I-frame playlists (their rates read every keyframe's size); not where they are not served.</param>
    public static MasterPlaylist? Master(Point point, HlsFormat format, long windowSeconds = 0, bool iFrames = true)
    {
        var audio = AudioOf(point);
        var instream = CaptionSei.InstreamId(point.Tracks().Aggregate(CaptionKinds.None, (all, t) => all | t.Captions));
        var factor = format == HlsFormat.Ts ? TsOverhead : 1.0;
        var variants = new List<HlsVariant>();
        var iframes = new List<HlsVariant>();
        foreach (var track in point.Tracks())
        {
            if (track.Description.Kind == TrackKind.Video && track.Last is { } last)
            {
                variants.Add(VideoVariant(track, last, format, audio, instream, windowSeconds));
                if (!iFrames)
                {
                    continue;
                }

                var avc = track.Description.RequireAvc();
                var keyframes = KeyframeRates(track, windowSeconds);
                iframes.Add(new HlsVariant
                {
                    Bandwidth = (long)Math.Ceiling(keyframes.Peak * factor),
                    AverageBandwidth = (long)Math.Ceiling(keyframes.Average * factor),
                    Codecs = avc.CodecString,
                    Width = avc.Width,
                    Height = avc.Height,
                    Uri = "hls/" + IFramePlaylistName(track.Key, format),
                });
            }
        }

        if (variants.Count == 0 && audio is null)
        {
            return null;
        }

        // A point without video (a radio channel): its audio is the one variant, the media playlist itself.
        var audioOnly = variants.Count == 0;

        // Players start with the first variant: the lowest bandwidth starts fastest.
        variants.Sort((a, b) => a.Bandwidth.CompareTo(b.Bandwidth));
        iframes.Sort((a, b) => a.Bandwidth.CompareTo(b.Bandwidth));
        List<HlsAudioRendition> renditions = [];
        if (audio is not null)
        {
            // Apple's authoring rules: an audio-only variant as the fallback on a weak cellular link; last, so no player
            // starts with it (and hls.js leaves it out when there is video). TS masters list packed audio.
            var rate = Rates(audio, windowSeconds);
            variants.Add(new HlsVariant
            {
                Bandwidth = (long)Math.Ceiling(rate.Peak),
                AverageBandwidth = (long)Math.Ceiling(rate.Average),
                Codecs = audio.Description.RequireAac().CodecString,
                AudioGroup = format == HlsFormat.Fmp4 && !audioOnly ? AudioGroup : null,
                ClosedCaptions = instream is null ? HlsVariant.NoClosedCaptions : null,
                Uri = "hls/" + PlaylistName(audio.Key, format),
            });
        }

        if (format == HlsFormat.Fmp4 && audio is not null && !audioOnly)
        {
            renditions.Add(new HlsAudioRendition
            {
                GroupId = AudioGroup,
                Name = audio.Description.Language is { Length: > 0 } and not "und" ? audio.Description.Language : "main",
                Language = audio.Description.Language,
                IsDefault = true,
                Channels = audio.Description.Channels,
                Uri = "hls/" + PlaylistName(audio.Key, format),
            });
        }

        HlsCaptionRendition[] closedCaptions = instream is null ? [] :
            [new HlsCaptionRendition { GroupId = CaptionGroup, Name = instream.StartsWith("CC", StringComparison.Ordinal) ? "CEA-608" : "CEA-708", InstreamId = instream }];

        // RFC 8216bis 7: an INSTREAM-ID of SERVICEn needs version 7.
        var version = instream?.StartsWith("SERVICE", StringComparison.Ordinal) == true ? 7 : format == HlsFormat.Fmp4 ? 6 : 3;
        return new MasterPlaylist { Version = version, Variants = variants, Audio = renditions, ClosedCaptions = closedCaptions, IFrameStreams = iframes };
    }

    /// <summary>
    /// The point's timed events that touch [<paramref name="from"/>, <paramref name="to"/>) (media ticks) as
    /// EXT-X-DATERANGE: a SCTE-35 cue with its section as SCTE35-OUT, -IN or -CMD (RFC 8216bis 4.4.5.1.1), another
    /// scheme as a CLASS of its own. IDs and dates come from media time, so every origin writes the same tags.
    /// </summary>
    internal static HlsDateRange[] DateRanges(Point point, DateTimeOffset anchor, long from, long to)
    {
        var ranges = new List<HlsDateRange>();
        foreach (var e in point.Events())
        {
            if (e.StartTicks >= to || e.StartTicks + (e.DurationTicks ?? 0) < from)
            {
                continue;
            }

            var attribute = e.Scheme != TimedEvent.Scte35Scheme ? null : e.Splice?.Kind switch
            {
                SpliceKind.Out => "SCTE35-OUT",
                SpliceKind.In => "SCTE35-IN",
                _ => "SCTE35-CMD",
            };
            var duration = e.DurationTicks is { } d ? TimeSpan.FromTicks(d) : e.Splice?.BreakDuration90k is { } b ? TimeSpan.FromTicks(b * TimeSpan.TicksPerSecond / 90_000) : (TimeSpan?)null;
            ranges.Add(new HlsDateRange(e.Key, anchor + TimeSpan.FromTicks(e.StartTicks), duration, attribute, attribute is null ? null : e.Message,
                attribute is null ? e.Scheme : null));
        }

        return [.. ranges];
    }

    private static (double Peak, double Average) Sum((double Peak, double Average) a, (double Peak, double Average) b) => (a.Peak + b.Peak, a.Average + b.Average);

    /// <summary>A video variant: its rates with the audio it plays with, codecs, picture, and the caption group (or NONE).</summary>
    private static HlsVariant VideoVariant(Track track, FragmentEntry last, HlsFormat format, Track? audio, string? instream, long windowSeconds)
    {
        var avc = track.Description.RequireAvc();
        var audioCodec = audio?.Description.RequireAac().CodecString;
        // fMP4: the video and the audio rendition it plays with (the sum of their peaks); TS: what each segment muxes.
        var (peak, average) = format == HlsFormat.Ts
            ? TsRates(track, audio, windowSeconds)
            : Sum(Rates(track, windowSeconds), audio is null ? default : Rates(audio, windowSeconds));
        return new HlsVariant
        {
            Bandwidth = (long)Math.Ceiling(peak),
            AverageBandwidth = (long)Math.Ceiling(average),
            Codecs = audioCodec is null ? avc.CodecString : $"{avc.CodecString},{audioCodec}",
            Width = avc.Width,
            Height = avc.Height,
            FrameRate = FrameRate(avc.Sps, last, track.Description.Timescale),
            AudioGroup = format == HlsFormat.Fmp4 && audio is not null ? AudioGroup : null,
            ClosedCaptions = instream is null ? HlsVariant.NoClosedCaptions : CaptionGroup,
            Uri = "hls/" + PlaylistName(track.Key, format),
        };
    }

    /// <summary>Complete segments whose parts a low-latency playlist still lists (with the parts of the open one).</summary>
    private const int SegmentsWithParts = 3;

    /// <summary>The media playlist of one track, or null when the track cannot be played in that format.</summary>
    /// <param name="skip">A delta update (_HLS_skip): segments further than CAN-SKIP-UNTIL from the live edge are left out.</param>
    public static MediaPlaylist? Media(Point point, Track track, HlsFormat format, long windowSeconds, DateTimeOffset anchor, TimeShift? shift = null, bool skip = false)
    {
        if (format == HlsFormat.Ts && track.Description.Kind == TrackKind.Other)
        {
            return null;
        }

        var live = shift?.SeesLive(point) ?? point.State != PointState.Vod;
        var timescale = track.Description.Timescale;
        var window = windowSeconds * timescale;
        var unshifted = shift is null or { IsNone: true };
        var whole = true;
        var fragments = live && unshifted ? track.LiveTail(window, AvailableUntil(point, track, format), out var open, out var openParts, out whole) : track.Snapshot(out open, out openParts);
        var (available, start, listedLive) = Listed(point, track, format, fragments, window, live, shift);
        if (live && unshifted && !whole && start == 0)
        {
            // The window reaches back past the run copied (not expected: the run starts before it): the whole index, as a shift reads.
            fragments = track.Snapshot(out open, out openParts);
            (available, start, listedLive) = Listed(point, track, format, fragments, window, live, shift);
        }

        live = listedLive;
        var nominal = Timescale.Rescale(point.Numbering.NominalTicks, TimeSpan.TicksPerSecond, timescale);
        var longest = fragments.Length > 0 ? fragments[0].LongestBefore : 0;
        var segments = new List<HlsSegment>(available - start);
        var name = Name(track.Key);
        // The TS family's audio-only rendition is packed audio (ADTS behind an ID3 timestamp), as Apple specifies.
        var extension = format == HlsFormat.Fmp4 ? "m4s" : track.Description.Kind == TrackKind.Audio ? "aac" : "ts";
        var (audioChanges, audioChangesAt) = format == HlsFormat.Ts && track.Description.Kind == TrackKind.Video && start < available
            ? TsAudio.Changes(point, track, fragments, available, fragments[start].Sequence, live)
            : (0, null);
        for (var i = 0; i < available; i++)
        {
            longest = Math.Max(longest, HlsTimeline.End(fragments, i) - fragments[i].Time);
            if (i < start)
            {
                continue;
            }

            // The numbers missing before this segment are listed as gaps when they can be (a live list starts after the
            // last that cannot), and the timeline runs on through them: an origin that has those segments lists no
            // discontinuity either. A VOD list too, so every segment keeps its implicit number across the turn from live.
            var filled = i > start && HlsTimeline.Fillable(fragments, i, nominal, timescale) && AddGaps(segments, fragments, i, timescale, anchor, name, extension);
            var time = anchor + TimeSpan.FromTicks(Timescale.Rescale(fragments[i].Time, timescale, TimeSpan.TicksPerSecond));
            segments.Add(new HlsSegment(
                fragments[i].Sequence,
                HlsTimeline.Duration(fragments, i, timescale),
                string.Create(CultureInfo.InvariantCulture, $"{name}/{fragments[i].Sequence}.{extension}"),
                i > start && ((!filled && (fragments[i].Discontinuity || HlsTimeline.IsGap(fragments, i))) || audioChangesAt?.Invoke(fragments[i].Sequence) == true),
                time,
                Gap: fragments[i].Lost || (format == HlsFormat.Ts && track.Description.Kind == TrackKind.Video && AudioLost(point, track, fragments[i], live))));
        }

        var playlist = new MediaPlaylist
        {
            Version = format == HlsFormat.Fmp4 ? 6 : 3,
            MinimumTargetDuration = MediaPlaylist.RoundedSeconds(TimeSpan.FromTicks(Math.Max(
                Timescale.Rescale(longest, timescale, TimeSpan.TicksPerSecond), point.Numbering.LongestTicks))),
            MediaSequence = start < fragments.Length ? fragments[start].Sequence : open,
            DiscontinuitySequence = audioChanges + (start < fragments.Length ? fragments[start].DiscontinuitiesThrough : fragments.Length > 0 ? fragments[^1].DiscontinuitiesThrough : 0),
            IsVod = !live,
            MapUri = format == HlsFormat.Fmp4 ? $"{name}/init.mp4" : null,
            Segments = segments,
            DateRanges = start < available
                ? DateRanges(point, anchor, Timescale.Rescale(fragments[start].Time, timescale, TimeSpan.TicksPerSecond), Timescale.Rescale(HlsTimeline.End(fragments, available - 1), timescale, TimeSpan.TicksPerSecond))
                : [],
        };
        return format == HlsFormat.Fmp4 && live && unshifted && track.LongestPart > 0
            ? LowLatency(point, track, playlist, fragments, open, openParts, skip)
            : playlist;
    }

    // The numbers missing right before fragments[index] as EXT-X-GAP segments sharing the time between it and the one
    // before (each is named as its segment would be; a player does not load it). False when none is missing.
    private static bool AddGaps(List<HlsSegment> segments, FragmentEntry[] fragments, int index, long timescale, DateTimeOffset anchor, string name, string extension)
    {
        var missing = HlsTimeline.Missing(fragments, index);
        if (missing <= 0)
        {
            return false;
        }

        var from = HlsTimeline.End(fragments, index - 1);
        var span = fragments[index].Time - from;
        for (long k = 0; k < missing; k++)
        {
            var start = from + (span * k / missing);
            var end = from + (span * (k + 1) / missing);
            var sequence = fragments[index - 1].Sequence + 1 + k;
            segments.Add(new HlsSegment(
                sequence,
                TimeSpan.FromTicks(Timescale.Rescale(end - start, timescale, TimeSpan.TicksPerSecond)),
                string.Create(CultureInfo.InvariantCulture, $"{name}/{sequence}.{extension}"),
                false,
                anchor + TimeSpan.FromTicks(Timescale.Rescale(start, timescale, TimeSpan.TicksPerSecond)),
                Gap: true));
        }

        return true;
    }

    /// <summary>Whether a TS segment of this video fragment would mux audio that was lost (only asked once the point lost any).</summary>
    private static bool AudioLost(Point point, Track video, FragmentEntry fragment, bool live)
    {
        if (point.LostFragments == 0 || TsAudio.For(point, video, fragment, live) is not { } audio)
        {
            return false;
        }

        var timescale = video.Description.Timescale;
        var from = Timescale.Rescale(fragment.Time, timescale, audio.Description.Timescale);
        var to = Timescale.Rescale(fragment.End, timescale, audio.Description.Timescale);
        return audio.SnapshotBetween(from, to).Any(f => f.Lost);
    }

    /// <summary>Where a live TS video segment can end: where its audio has arrived (track timescale); no bound otherwise.</summary>
    private static long AvailableUntil(Point point, Track track, HlsFormat format) =>
        format == HlsFormat.Ts && track.Description.Kind == TrackKind.Video && AudioOf(point) is { Last: { } audio } audioTrack
            ? Timescale.Rescale(audio.End, audioTrack.Description.Timescale, track.Description.Timescale)
            : long.MaxValue;

    /// <summary>
    /// Which of <paramref name="fragments"/> a media playlist lists: the first <c>Available</c> can be served (a live TS
    /// segment waits for its audio), listed from <c>Start</c> (the window, a time-shift, the run after the last gap in
    /// numbering); and whether the playlist is still live (a shift may end before the edge).
    /// </summary>
    private static (int Available, int Start, bool Live) Listed(Point point, Track track, HlsFormat format, FragmentEntry[] fragments, long window, bool live, TimeShift? shift)
    {
        var timescale = track.Description.Timescale;
        var available = format == HlsFormat.Ts && track.Description.Kind == TrackKind.Video
            ? HlsTimeline.Available(fragments, timescale, AudioOf(point), live)
            : fragments.Length;
        var start = live ? HlsTimeline.WindowStart(fragments, available, window) : 0;
        if (shift is { IsNone: false })
        {
            var (from, to, closed) = shift.Select(fragments, available, timescale);
            available = to;
            live = live && !closed;
            start = Math.Min(available, from ?? (live ? HlsTimeline.WindowStart(fragments, available, window) : 0));
        }

        if (live)
        {
            var nominal = Timescale.Rescale(point.Numbering.NominalTicks, TimeSpan.TicksPerSecond, timescale);
            start = HlsTimeline.AfterLastUnfillableGap(fragments, start, available, nominal, timescale);
        }

        return (available, start, live);
    }

    /// <summary>
    /// The low-latency form (RFC 8216bis): parts of the last complete segments and of the open one, the hint of the next
    /// part, where the other renditions are, and for a delta update the old segments left out.
    /// </summary>
    private static MediaPlaylist LowLatency(Point point, Track track, MediaPlaylist playlist, FragmentEntry[] fragments, long open, PartEntry[] openParts, bool skip)
    {
        var timescale = track.Description.Timescale;
        var name = Name(track.Key);
        var segments = playlist.Segments.ToList();
        for (var s = Math.Max(0, segments.Count - SegmentsWithParts); s < segments.Count; s++)
        {
            var sequence = segments[s].Sequence;
            if (Track.IndexOf(fragments, sequence) is var index and >= 0 && fragments[index].Parts is { } parts)
            {
                segments[s] = segments[s] with { Parts = [.. parts.Select((p, i) => Part(name, sequence, i, p.Duration, p.Independent, timescale))] };
            }
        }

        var skipped = 0;
        if (skip && segments.Count > 0)
        {
            var edge = segments.Sum(x => x.Duration.Ticks);
            var boundary = playlist.SkipBoundary.Ticks;
            long before = 0;
            while (skipped < segments.Count - 1 && edge - (before + segments[skipped].Duration.Ticks) >= boundary)
            {
                before += segments[skipped].Duration.Ticks;
                skipped++;
            }
        }

        // Players number the open segment's parts by their place: after the last listed segment. After a jump in the
        // encoder's timeline the open segment's number (by its time) is further on, and its parts would be taken for
        // those of the segment after the last; they are listed once it is complete, and no part is hinted meanwhile.
        var follows = segments.Count == 0 || open == segments[^1].Sequence + 1;
        return playlist with
        {
            Version = 9,
            PartTarget = TimeSpan.FromMilliseconds(Math.Ceiling(Timescale.Rescale(track.LongestPart, timescale, 1_000_000) / 1000.0)),
            Segments = segments.Skip(skipped).ToArray(),
            SkippedSegments = skipped,
            OpenParts = follows ? [.. openParts.Select((p, i) => Part(name, open, i, p.Duration, p.Independent, timescale))] : [],
            PreloadHint = follows ? string.Create(CultureInfo.InvariantCulture, $"{name}/{open}.{openParts.Length}.m4s") : null,
            RenditionReports = [.. RenditionReports(point, track)],
        };
    }

    private static HlsPart Part(string name, long sequence, int index, long duration, bool independent, long timescale) =>
        new(TimeSpan.FromTicks(Timescale.Rescale(duration, timescale, TimeSpan.TicksPerSecond)), string.Create(CultureInfo.InvariantCulture, $"{name}/{sequence}.{index}.m4s"), independent);

    /// <summary>The live edge of every other rendition the fMP4 master names (video variants, the audio rendition).</summary>
    private static IEnumerable<HlsRenditionReport> RenditionReports(Point point, Track track)
    {
        var audio = AudioOf(point);
        foreach (var other in point.Tracks())
        {
            if (other == track || (other.Description.Kind != TrackKind.Video && other != audio))
            {
                continue;
            }

            var last = other.Edge(out var open, out var openParts);
            // As that rendition's own playlist lists them: its open segment's parts only when it follows the last one.
            if (openParts > 0 && open == (last?.Sequence ?? -1) + 1)
            {
                yield return new HlsRenditionReport(PlaylistName(other.Key, HlsFormat.Fmp4), open, openParts - 1);
            }
            else if (last is not null)
            {
                yield return new HlsRenditionReport(PlaylistName(other.Key, HlsFormat.Fmp4), last.Sequence, (last.Parts?.Count ?? 1) - 1);
            }
        }
    }

    /// <summary>Peak and average bits per second of the track's fragments; the nominal bitrate until there are any.</summary>
    private static (double Peak, double Average) Rates(Track track, long windowSeconds)
    {
        var timescale = (double)track.Description.Timescale;
        double peak = 0, bytes = 0, duration = 0;
        foreach (var fragment in InWindow(track, windowSeconds))
        {
            if (fragment.Duration <= 0)
            {
                continue;
            }

            peak = Math.Max(peak, fragment.Length * 8 * timescale / fragment.Duration);
            bytes += fragment.Length;
            duration += fragment.Duration;
        }

        return duration > 0
            ? (Math.Max(peak, track.Key.Bitrate), bytes * 8 * timescale / duration)
            : (track.Key.Bitrate, track.Key.Bitrate);
    }

    /// <summary>
    /// A TS variant's rates as RFC 8216bis 4.4.6.2 defines them, over the window: each segment is the video fragment and
    /// the audio samples of its interval (what the segment muxes), BANDWIDTH the largest segment bit rate,
    /// AVERAGE-BANDWIDTH all the bits over all the time; packetisation overhead added.
    /// </summary>
    private static (double Peak, double Average) TsRates(Track video, Track? audio, long windowSeconds)
    {
        var timescale = (double)video.Description.Timescale;
        double peak = 0, bits = 0, duration = 0;
        foreach (var fragment in InWindow(video, windowSeconds))
        {
            if (fragment.Duration <= 0)
            {
                continue;
            }

            if (fragment.Lost)
            {
                continue;
            }

            var bytes = TsSegmentBytes(fragment, video, audio);
            peak = Math.Max(peak, bytes * 8 * timescale / fragment.Duration);
            bits += bytes * 8;
            duration += fragment.Duration;
        }

        var nominal = (video.Key.Bitrate + (audio?.Key.Bitrate ?? 0)) * TsOverhead;
        // The estimate is within a few per cent of the muxer's bytes: 5 % more on the peak keeps BANDWIDTH above it.
        return duration > 0 ? (peak * 1.05, bits * timescale / duration) : (nominal, nominal);
    }

    /// <summary>
    /// What the TS segment of <paramref name="fragment"/> weighs, from the sample tables alone: each PES (a video frame
    /// with its PES header, PCR, access unit delimiter and start codes; a run of ADTS audio frames) in whole 188-byte
    /// packets of 184 payload bytes, plus PAT, PMT and on average half of the padding that aligns each PID's counters.
    /// </summary>
    private static double TsSegmentBytes(FragmentEntry fragment, Track video, Track? audio)
    {
        if (fragment.TsBytesEstimate is { } known)
        {
            return known;
        }

        var bytes = EstimateTsSegmentBytes(fragment, video, audio);
        // Kept once the audio of its interval is all there (the window's newest fragment may still be waiting for it).
        if (audio is null || audio.Last is { } last && last.End >= Timescale.Rescale(fragment.End, video.Description.Timescale, audio.Description.Timescale))
        {
            fragment.TsBytesEstimate = bytes;
        }

        return bytes;
    }

    private static double EstimateTsSegmentBytes(FragmentEntry fragment, Track video, Track? audio)
    {
        const int VideoFraming = 14 + 8 + 6 + 5; // PES header with DTS, PCR, AUD, start codes longer than length prefixes
        const int AdtsHeader = 7;
        const int FramesPerAudioPes = 8;
        var packets = 2.0 + 15 + Math.Ceiling((video.Description.Avc?.GetRecordLength() ?? 0) / 184.0);
        foreach (var sample in fragment.Samples)
        {
            packets += Math.Ceiling((sample.Size + VideoFraming) / 184.0);
        }

        if (audio is not null)
        {
            var from = Timescale.Rescale(fragment.Time, video.Description.Timescale, audio.Description.Timescale);
            var to = Timescale.Rescale(fragment.End, video.Description.Timescale, audio.Description.Timescale);
            int frames = 0, pes = 14;
            foreach (var audioFragment in audio.SnapshotBetween(from, to))
            {
                if (audioFragment.Lost)
                {
                    continue;
                }

                foreach (var sample in audioFragment.Samples)
                {
                    if (sample.DecodeTime >= from && sample.DecodeTime < to)
                    {
                        pes += sample.Size + AdtsHeader;
                        if (++frames % FramesPerAudioPes == 0)
                        {
                            packets += Math.Ceiling(pes / 184.0);
                            pes = 14;
                        }
                    }
                }
            }

            packets += pes > 14 ? Math.Ceiling(pes / 184.0) : 0;
        }

        return packets * 188;
    }

    /// <summary>The track's fragments of the last <paramref name="windowSeconds"/> (all of them for 0).</summary>
    private static FragmentEntry[] InWindow(Track track, long windowSeconds)
    {
        if (windowSeconds <= 0 || track.Last is not { } last)
        {
            return track.Snapshot();
        }

        return track.SnapshotFrom(last.End - (windowSeconds * track.Description.Timescale));
    }

    /// <summary>
    /// The I-frame playlist of a video track: the media playlist's window, each entry the segment's first frame (a
    /// keyframe) as a byte range of the segment. TS ranges must have been computed (<see cref="HlsPackager.TsKeyframeEndAsync"/>);
    /// a segment whose range is not known yet, or that does not start with a keyframe, is left out.
    /// </summary>
    public static MediaPlaylist? IFrames(Point point, Track track, HlsFormat format, int windowSeconds, DateTimeOffset anchor, TimeShift? shift)
    {
        if (track.Description.Kind != TrackKind.Video || Media(point, track, format, windowSeconds, anchor, shift, skip: false) is not { } media)
        {
            return null;
        }

        var fragments = media.Segments.Count > 0 ? track.SnapshotFromSequence(media.Segments[0].Sequence) : [];
        var entries = new List<HlsSegment>(media.Segments.Count);
        foreach (var segment in media.Segments)
        {
            var index = Track.IndexOf(fragments, segment.Sequence);
            if (index < 0 || !fragments[index].FirstSampleIsSync || segment.Gap)
            {
                continue;
            }

            long? end = format == HlsFormat.Ts
                ? fragments[index].TsKeyframeEnd
                : HlsPackager.Fmp4KeyframeEnd(fragments[index]) + HlsPackager.EventBoxes(point, track, fragments[index]).Length;
            if (end is { } length and > 0)
            {
                entries.Add(segment with { Parts = null, ByteRange = new HlsByteRange(length, 0) });
            }
        }

        return media with
        {
            Version = Math.Max(media.Version is 9 ? 6 : media.Version, 4),
            IFramesOnly = true,
            Segments = entries,
            MediaSequence = entries.Count > 0 ? entries[0].Sequence : media.MediaSequence,
            PartTarget = null,
            OpenParts = [],
            PreloadHint = null,
            RenditionReports = [],
            SkippedSegments = 0,
        };
    }

    /// <summary>Peak and average bits per second of the keyframes alone (each over its segment's duration), over the window.</summary>
    private static (double Peak, double Average) KeyframeRates(Track track, long windowSeconds)
    {
        var timescale = (double)track.Description.Timescale;
        double peak = 0, bits = 0, duration = 0;
        foreach (var fragment in InWindow(track, windowSeconds))
        {
            if (fragment.Duration > 0 && fragment.FirstSampleIsSync)
            {
                peak = Math.Max(peak, fragment.FirstSampleSize * 8 * timescale / fragment.Duration);
                bits += fragment.FirstSampleSize * 8.0;
                duration += fragment.Duration;
            }
        }

        return duration > 0 ? (peak, bits * timescale / duration) : (track.Key.Bitrate / 10.0, track.Key.Bitrate / 10.0);
    }

    internal static double FrameRate(SequenceParameterSet sps, FragmentEntry fragment, long timescale)
    {
        // VUI ticks are field periods: two per frame.
        if (sps.HasTimingInfo)
        {
            return sps.TimeScale / (2.0 * sps.NumUnitsInTick);
        }

        return fragment.Duration > 0 ? fragment.SampleCount * (double)timescale / fragment.Duration : 0;
    }
}
