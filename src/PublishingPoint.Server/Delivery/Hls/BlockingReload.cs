using System.Globalization;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery.Hls;

/// <summary>
/// The delivery directives of a low-latency playlist request (RFC 8216bis 6.2.5): <c>_HLS_msn</c> and <c>_HLS_part</c>
/// hold the request until that part exists (without <c>_HLS_part</c>, part 0 of that segment: Safari asks that way
/// when a segment ends), <c>_HLS_skip</c> asks for a delta update. Waiting costs a continuation on the track's one
/// notifier, no thread.
/// </summary>
internal readonly record struct BlockingReload(long? Msn, int? Part, bool Skip)
{
    /// <summary>A held answer names a moment of the stream in its URL: caches may keep it well beyond the live edge's life.</summary>
    public const int CacheSeconds = 60;

    public static bool TryParse(IQueryCollection query, out BlockingReload reload, out string? error)
    {
        reload = default;
        error = null;
        long? msn = null;
        int? part = null;
        if (query["_HLS_msn"].ToString() is { Length: > 0 } m)
        {
            if (!long.TryParse(m, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                error = "_HLS_msn must be a media sequence number";
                return false;
            }

            msn = value;
        }

        if (query["_HLS_part"].ToString() is { Length: > 0 } p)
        {
            if (msn is null || !int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                error = "_HLS_part must be a part number, with _HLS_msn";
                return false;
            }

            part = value;
        }

        var skip = query["_HLS_skip"].ToString() is "YES" or "v2";
        reload = new BlockingReload(msn, part, skip);
        return true;
    }

    /// <summary>200 once the part exists (or the stream ended), 400 when it is too far ahead to wait for, 404 when the point was deleted meanwhile, 503 when it did not come in time.</summary>
    public async Task<int> WaitAsync(Point point, Track track, TimeProvider time, CancellationToken cancellationToken)
    {
        track.Edge(out var open, out var openParts);
        var liveEdge = open - (openParts == 0 ? 1 : 0);
        var newest = track.Newest(8);
        if (Msn > liveEdge + 2 || (Part is { } asked && PastAdvancePartLimit(track, newest, open, openParts, asked)))
        {
            return StatusCodes.Status400BadRequest;
        }

        var limit = HoldLimit(newest, track.Description.Timescale);
        using var timeout = new CancellationTokenSource(limit, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        while (true)
        {
            var changed = track.Changed;
            var last = track.Edge(out open, out openParts)?.Sequence ?? -1;
            if (point.Retired)
            {
                return StatusCodes.Status404NotFound;
            }

            // What the playlist holds: segments up to the last complete one, and the open one's parts only when it follows
            // that one (after a jump in the encoder's timeline they are not listed till it completes).
            var listedParts = open == last + 1 ? openParts : 0;
            if (point.State == PointState.Vod || Msn <= last || (Msn == open && (Part ?? 0) < listedParts))
            {
                return StatusCodes.Status200OK;
            }

            try
            {
                await changed.WaitAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                return point.State == PointState.Vod ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
            }
        }
    }

    // RFC 8216bis 6.2.5.2 lets a server refuse a part more than the Advance Part Limit (3 / PART-TARGET under a second,
    // else 3) past the playlist's last part. Players ask one segment's worth of parts ahead at a boundary (hls.js
    // outside its low-latency mode asks for the next segment's part by the last one's index), so the bound is a
    // segment's parts and the limit past it: what no segment can reach is refused at once instead of being held.
    private bool PastAdvancePartLimit(Track track, FragmentEntry[] newest, long open, int openParts, long part)
    {
        var target = (double)track.LongestPart / track.Description.Timescale;
        if (target <= 0 || Msn < open)
        {
            return false;
        }

        var limit = target < 1 ? Math.Ceiling(3 / target) : 3;
        var longest = newest.Length > 0 ? newest.Max(f => f.Duration) / (double)track.Description.Timescale : 0;
        var perSegment = Math.Ceiling(longest / target);
        var ahead = Msn == open ? part - (openParts - 1L) : part;
        return ahead > perSegment + limit;
    }

    /// <summary>How long a request is held: three target durations, as the specification suggests (6 s before the first segment).</summary>
    public static TimeSpan HoldLimit(FragmentEntry[] fragments, long timescale)
    {
        var longest = fragments.Length == 0 ? 0 : fragments.TakeLast(8).Max(f => f.Duration);
        return longest == 0 ? TimeSpan.FromSeconds(6) : TimeSpan.FromSeconds(3 * Math.Ceiling((double)longest / timescale));
    }
}
