using PublishingPoint.Media.Timing;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery.Hls;

/// <summary>
/// How a track's fragments become HLS segments: segment N is the fragment numbered N (from its media time, by
/// <see cref="SegmentNumbering"/>, so numbers never change as the window slides and every origin agrees),
/// covering [start, next start).
/// </summary>
internal static class HlsTimeline
{
    /// <summary>Where segment <paramref name="index"/> ends (<see cref="FragmentEntry.SegmentEnd"/>).</summary>
    public static long End(FragmentEntry[] fragments, int index) =>
        fragments[index].SegmentEnd(index + 1 < fragments.Length ? fragments[index + 1] : null);

    public static TimeSpan Duration(FragmentEntry[] fragments, int index, long timescale) =>
        TimeSpan.FromTicks(Timescale.Rescale(End(fragments, index) - fragments[index].Time, timescale, TimeSpan.TicksPerSecond));

    /// <summary>
    /// Segments that can be served: all of them for video alone, fMP4 or VOD; while live, a TS segment that muxes
    /// <paramref name="audio"/> waits until the audio up to its end has arrived, so it is never cached short. That end
    /// never moves later (<see cref="End"/>), so a segment listed and served never goes back to "not yet".
    /// </summary>
    public static int Available(FragmentEntry[] video, long videoTimescale, Track? audio, bool live)
    {
        if (!live || audio is null || video.Length == 0)
        {
            return video.Length;
        }

        var audioEnd = audio.Last?.End ?? long.MinValue;
        var count = video.Length;
        while (count > 0 && Timescale.Rescale(End(video, count - 1), videoTimescale, audio.Description.Timescale) > audioEnd)
        {
            count--;
        }

        return count;
    }

    /// <summary>Segment <paramref name="index"/> follows numbers this origin never received (it was down, or joined late).</summary>
    public static bool IsGap(FragmentEntry[] fragments, int index) =>
        index > 0 && fragments[index].Sequence != fragments[index - 1].Sequence + 1;

    /// <summary>Numbers missing right before segment <paramref name="index"/> (0 when it follows the one before).</summary>
    public static long Missing(FragmentEntry[] fragments, int index) =>
        index > 0 ? fragments[index].Sequence - fragments[index - 1].Sequence - 1 : 0;

    /// <summary>Most EXT-X-GAP entries one gap in numbering is listed as.</summary>
    public const int MaxGapEntries = 512;

    /// <summary>
    /// Where a live playlist can start, at or after <paramref name="from"/>: a playlist numbers its segments implicitly,
    /// so each number missing between two listed segments (an outage of the encoder, or of this origin) is listed as an
    /// EXT-X-GAP segment, an equal share of the time between them; the numbers stay every origin's and the window keeps
    /// what came before the outage. A gap that cannot be filled (<see cref="Fillable"/>: the encoder's timeline jumped by
    /// other than the time it was away) is cut: the list starts after it. Decided by the gap and the point's nominal
    /// length alone, so a start never goes back as the window slides, and every origin decides alike.
    /// </summary>
    public static int AfterLastUnfillableGap(FragmentEntry[] fragments, int from, int count, long nominal, long timescale)
    {
        for (var i = count - 1; i > from; i--)
        {
            if (Missing(fragments, i) > 0 && !Fillable(fragments, i, nominal, timescale))
            {
                return i;
            }
        }

        return from;
    }

    /// <summary>
    /// Whether the numbers missing right before segment <paramref name="index"/> can be listed as gaps: at most
    /// <see cref="MaxGapEntries"/>, each a share of at least half the nominal length (no run of slivers) that rounds to
    /// no more whole seconds than the nominal length does (the target duration covers those).
    /// </summary>
    /// <param name="nominal">The point's nominal segment length in the track's timescale (<paramref name="timescale"/>).</param>
    public static bool Fillable(FragmentEntry[] fragments, int index, long nominal, long timescale)
    {
        var missing = Missing(fragments, index);
        var span = fragments[index].Time - End(fragments, index - 1);
        if (missing <= 0 || missing > MaxGapEntries || span <= 0 || nominal <= 0)
        {
            return false;
        }

        var share = span / missing;
        static int Seconds(long duration, long timescale) =>
            PublishingPoint.Media.Hls.MediaPlaylist.RoundedSeconds(TimeSpan.FromTicks(Timescale.Rescale(duration, timescale, TimeSpan.TicksPerSecond)));
        return share * 2 >= nominal && Seconds(share, timescale) <= Seconds(nominal, timescale);
    }

    /// <summary>
    /// The first of the segments after the last gap in numbering: a live MPD numbers its segments implicitly, so it
    /// lists only the unbroken run up to the edge.
    /// </summary>
    public static int AfterLastGap(FragmentEntry[] fragments, int count)
    {
        for (var i = count - 1; i > 0; i--)
        {
            if (IsGap(fragments, i))
            {
                return i;
            }
        }

        return 0;
    }

    /// <summary>First segment of a live window of <paramref name="window"/> (track timescale), never fewer than 3 segments.</summary>
    public static int WindowStart(FragmentEntry[] fragments, int count, long window)
    {
        if (count == 0)
        {
            return 0;
        }

        var edge = End(fragments, count - 1);
        var start = 0;
        while (start < count && End(fragments, start) <= edge - window)
        {
            start++;
        }

        return Math.Max(0, Math.Min(start, count - 3));
    }
}
