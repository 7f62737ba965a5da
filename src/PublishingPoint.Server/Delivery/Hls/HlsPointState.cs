using System.Runtime.CompilerServices;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery.Hls;

/// <summary>What delivery keeps per point besides its rendered output: the wall clock of media time zero and the DASH period origin.</summary>
internal sealed class HlsPointState
{
    private static readonly ConditionalWeakTable<Point, HlsPointState> _states = [];

    private HlsPointState(DateTimeOffset anchor) => Anchor = anchor;

    /// <summary>Wall-clock time of media time 0, for EXT-X-PROGRAM-DATE-TIME.</summary>
    public DateTimeOffset Anchor { get; }

    /// <summary>The MPD's media origin, fixed once known so availabilityStartTime never moves.</summary>
    public long? DashOrigin { get; set; }

    /// <summary>
    /// The point's state. Ingest records no wall clock, so a live point is anchored when HLS first sees it
    /// (now minus its media time); a point first seen as VOD uses its folder's creation time.
    /// </summary>
    public static HlsPointState Of(Point point, DateTimeOffset now) => _states.GetValue(point, p =>
    {
        if (p.TimelineAnchor is { } anchor)
        {
            return new HlsPointState(anchor);
        }

        if (p.State == PointState.Live)
        {
            var seconds = 0.0;
            foreach (var track in p.Tracks())
            {
                if (track.Last is { } last)
                {
                    seconds = Math.Max(seconds, (double)last.End / track.Description.Timescale);
                }
            }

            return new HlsPointState(now - TimeSpan.FromSeconds(seconds));
        }

        return new HlsPointState(new DateTimeOffset(Directory.GetCreationTimeUtc(p.Directory), TimeSpan.Zero));
    });
}
