using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery.Hls;

/// <summary>A rendered playlist, valid while the point's version is unchanged.</summary>
internal sealed record HlsCachedPlaylist(long Version, byte[] Bytes, string ETag, int MaxAge)
{
    public byte[]? Gzipped { get; set; }
}

/// <summary>What HLS delivery keeps per point: its rendered playlists and the wall clock of media time zero.</summary>
internal sealed class HlsPointState
{
    private static readonly ConditionalWeakTable<Point, HlsPointState> _states = [];

    private HlsPointState(DateTimeOffset anchor) => Anchor = anchor;

    /// <summary>Wall-clock time of media time 0, for EXT-X-PROGRAM-DATE-TIME.</summary>
    public DateTimeOffset Anchor { get; }

    public ConcurrentDictionary<string, HlsCachedPlaylist> Playlists { get; } = new(StringComparer.Ordinal);

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
