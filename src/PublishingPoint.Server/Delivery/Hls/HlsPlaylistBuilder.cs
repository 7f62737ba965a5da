using System.Globalization;
using PublishingPoint.Media.Codecs.Aac;
using PublishingPoint.Media.Codecs.H264;
using PublishingPoint.Media.Hls;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.Timing;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery.Hls;

/// <summary>Builds master and media playlists from a point's tracks (URIs as <see cref="HlsDelivery"/> routes them).</summary>
internal static class HlsPlaylistBuilder
{
    public const string AudioGroup = "audio";

    // Transport stream packetisation (188/184, PES headers, PSI, CC padding) on top of the fragment bytes.
    private const double TsOverhead = 1.1;

    public static string Name(TrackKey key) => string.Create(CultureInfo.InvariantCulture, $"{key.Name}-{key.Bitrate}");

    public static string PlaylistName(TrackKey key, HlsFormat format) => Name(key) + (format == HlsFormat.Fmp4 ? "-fmp4.m3u8" : ".m3u8");

    /// <summary>The audio muxed into TS variants and offered to fMP4 variants: the point's first audio track.</summary>
    public static Track? AudioOf(Point point) => point.Tracks().FirstOrDefault(t => t.Description.Kind == TrackKind.Audio && t.Count > 0);

    public static MasterPlaylist? Master(Point point, HlsFormat format)
    {
        var audio = AudioOf(point);
        var audioRate = audio is null ? default : Rates(audio);
        var audioCodec = audio is null ? null : AudioSpecificConfig.Parse(audio.Description.Info.DecoderConfig).CodecString;
        var variants = new List<HlsVariant>();
        foreach (var track in point.Tracks())
        {
            if (track.Description.Kind != TrackKind.Video || track.Last is not { } last)
            {
                continue;
            }

            var avc = AvcDecoderConfiguration.Parse(track.Description.Info.DecoderConfig);
            var rate = Rates(track);
            var factor = format == HlsFormat.Ts ? TsOverhead : 1.0;
            variants.Add(new HlsVariant
            {
                Bandwidth = (long)Math.Ceiling((rate.Peak + audioRate.Peak) * factor),
                AverageBandwidth = (long)Math.Ceiling((rate.Average + audioRate.Average) * factor),
                Codecs = audioCodec is null ? avc.CodecString : $"{avc.CodecString},{audioCodec}",
                Width = avc.Width,
                Height = avc.Height,
                FrameRate = FrameRate(avc.Sps, last, track.Description.Timescale),
                AudioGroup = format == HlsFormat.Fmp4 && audio is not null ? AudioGroup : null,
                Uri = "hls/" + PlaylistName(track.Key, format),
            });
        }

        if (variants.Count == 0)
        {
            return null;
        }

        // Players start with the first variant: the lowest bandwidth starts fastest.
        variants.Sort((a, b) => a.Bandwidth.CompareTo(b.Bandwidth));
        List<HlsAudioRendition> renditions = [];
        if (format == HlsFormat.Fmp4 && audio is not null)
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

        return new MasterPlaylist { Version = format == HlsFormat.Fmp4 ? 6 : 3, Variants = variants, Audio = renditions };
    }

    /// <summary>The media playlist of one track, or null when the track cannot be played in that format.</summary>
    public static MediaPlaylist? Media(Point point, Track track, HlsFormat format, long windowSeconds, DateTimeOffset anchor, TimeShift? shift = null)
    {
        if (format == HlsFormat.Ts && track.Description.Kind != TrackKind.Video)
        {
            return null;
        }

        var live = point.State != PointState.Vod;
        var timescale = track.Description.Timescale;
        var fragments = track.Snapshot(out var first);
        var available = format == HlsFormat.Ts
            ? HlsTimeline.Available(fragments, timescale, AudioOf(point), live)
            : fragments.Length;
        var start = live ? HlsTimeline.WindowStart(fragments, available, windowSeconds * timescale) : 0;
        if (shift is { IsNone: false })
        {
            var (from, to, closed) = shift.Select(fragments, available, timescale, (DateTimeOffset.UtcNow - anchor).TotalSeconds);
            available = to;
            live = live && !closed;
            start = Math.Min(available, from ?? (live ? HlsTimeline.WindowStart(fragments, available, windowSeconds * timescale) : 0));
        }

        var longest = TimeSpan.Zero;
        var discontinuities = 0L;
        var segments = new List<HlsSegment>(available - start);
        var name = Name(track.Key);
        var extension = format == HlsFormat.Fmp4 ? "m4s" : "ts";
        for (var i = 0; i < available; i++)
        {
            var duration = HlsTimeline.Duration(fragments, i, timescale);
            longest = duration > longest ? duration : longest;
            if (i < start)
            {
                discontinuities += i > 0 && fragments[i].Discontinuity ? 1 : 0;
                continue;
            }

            if (i == start && i > 0 && fragments[i].Discontinuity)
            {
                discontinuities++;
            }

            var time = anchor + TimeSpan.FromTicks(Timescale.Rescale(fragments[i].Time, timescale, TimeSpan.TicksPerSecond));
            segments.Add(new HlsSegment(
                first + i,
                duration,
                string.Create(CultureInfo.InvariantCulture, $"{name}/{first + i}.{extension}"),
                i > start && fragments[i].Discontinuity,
                time));
        }

        return new MediaPlaylist
        {
            Version = format == HlsFormat.Fmp4 ? 6 : 3,
            MinimumTargetDuration = MediaPlaylist.CeilingSeconds(longest),
            MediaSequence = first + start,
            DiscontinuitySequence = discontinuities,
            IsVod = !live,
            MapUri = format == HlsFormat.Fmp4 ? $"{name}/init.mp4" : null,
            Segments = segments,
        };
    }

    /// <summary>Peak and average bits per second of the track's fragments; the nominal bitrate until there are any.</summary>
    internal static (double Peak, double Average) Rates(Track track)
    {
        var timescale = (double)track.Description.Timescale;
        double peak = 0, bytes = 0, duration = 0;
        foreach (var fragment in track.Snapshot())
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

    internal static double FrameRate(SequenceParameterSet sps, FragmentEntry fragment, long timescale)
    {
        // VUI ticks are field periods: two per frame.
        if (sps.HasTimingInfo)
        {
            return sps.TimeScale / (2.0 * sps.NumUnitsInTick);
        }

        return fragment.Duration > 0 ? fragment.Traf.SampleCount * (double)timescale / fragment.Duration : 0;
    }
}
