using PublishingPoint.Media.Timing;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.Tracks;

namespace PublishingPoint.Server.Points;

/// <summary>
/// Numbers a point's segments from media time, so every origin fed the same media gives a fragment the same number
/// (HLS media sequence, 'mfhd', TS continuity counters), whenever it joined or however often it restarted.
/// A fragment that follows its predecessor is the next number; the first, and one after a gap, is its start time
/// divided by the nominal fragment duration, rounded. The nominal duration is the first video fragment's exact
/// duration (a constant keyframe interval, as every redundant-origin setup needs), until then the first fragment's
/// rounded to 100 ms.
/// </summary>
public sealed class SegmentNumbering
{
    private const long ProvisionalGrid = TimeSpan.TicksPerSecond / 10;
    private readonly Lock _lock = new();
    private long _nominalTicks;
    private bool _fromVideo;
    private long _longestTicks;

    /// <summary>The nominal fragment duration in 100 ns ticks, 0 before any fragment.</summary>
    public long NominalTicks
    {
        get
        {
            lock (_lock)
            {
                return _nominalTicks;
            }
        }
    }

    /// <summary>
    /// The longest fragment (100 ns ticks) any track of the point has had: every segment of every rendition is at most
    /// this long, so one EXT-X-TARGETDURATION made from it holds for all of them (RFC 8216 6.2.4).
    /// </summary>
    public long LongestTicks
    {
        get
        {
            lock (_lock)
            {
                return _longestTicks;
            }
        }
    }

    /// <summary>The number of a fragment starting at <paramref name="time"/> that follows <paramref name="previous"/> (null: the first).</summary>
    public long Next(TrackDescription track, long time, long duration, FragmentEntry? previous)
    {
        ArgumentNullException.ThrowIfNull(track);
        if (previous is not null && time <= previous.End + (previous.Duration / 2))
        {
            return previous.Sequence + 1;
        }

        var nominal = Observe(track, duration);
        var ticks = Timescale.Rescale(time, track.Timescale, TimeSpan.TicksPerSecond);
        var byTime = (long)Math.Round((double)ticks / nominal, MidpointRounding.AwayFromZero);
        return previous is null ? byTime : Math.Max(previous.Sequence + 1, byTime);
    }

    /// <summary>Fixes the nominal duration from a track's fragment (video wins over a provisional audio one).</summary>
    public long Observe(TrackDescription track, long duration)
    {
        ArgumentNullException.ThrowIfNull(track);
        var ticks = Timescale.Rescale(duration, track.Timescale, TimeSpan.TicksPerSecond);
        var video = track.Kind == TrackKind.Video;
        lock (_lock)
        {
            _longestTicks = Math.Max(_longestTicks, ticks);
            if (ticks > 0 && (_nominalTicks == 0 || (video && !_fromVideo)))
            {
                _nominalTicks = video ? ticks : Math.Max(ProvisionalGrid, (ticks + (ProvisionalGrid / 2)) / ProvisionalGrid * ProvisionalGrid);
                _fromVideo = video;
            }

            return Math.Max(1, _nominalTicks);
        }
    }
}
