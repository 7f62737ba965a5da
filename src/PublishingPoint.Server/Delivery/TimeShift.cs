using System.Globalization;
using PublishingPoint.Media.Timing;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery;

/// <summary>
/// Start-over and time-shift on every output, from the query string of a manifest or playlist:
/// <c>start</c> (list from that wall-clock time instead of the DVR window: start-over), <c>end</c> (list up to
/// it; once reached the presentation is closed, as VOD), both ISO 8601 or Unix seconds, and <c>delay</c>
/// (seconds: a live edge that many seconds behind). Times map to media time through the point's timeline anchor.
/// Segments keep their usual URLs and numbers, so a shifted playlist shares every segment with the live one.
/// </summary>
public sealed record TimeShift(double? FromSeconds, double? ToSeconds, double DelaySeconds)
{
    public static readonly TimeShift None = new(null, null, 0);

    public bool IsNone => FromSeconds is null && ToSeconds is null && DelaySeconds <= 0;

    /// <summary>
    /// The max-age of a finished (VOD) playlist or MPD: an hour once nothing can change it (a time-shift window with an
    /// end), else a minute, because an encoder that comes back after FinalizeGraceSeconds continues the point, and an
    /// operator may open a closed one again, and a CDN must not keep telling players for an hour that it ended.
    /// </summary>
    public static int FinishedMaxAge(Points.Point point, TimeShift shift) =>
        shift.ToSeconds is not null ? 3600 : 60;

    /// <summary>Media seconds on the server's clock when the request came: a delay's live edge is measured back from it.</summary>
    public double NowSeconds { get; init; }

    /// <summary>Parses start/end/delay; false with a message for the 400 when one is malformed.</summary>
    /// <summary>The same from a request: one without a query string is not time-shifted (and its query is not parsed).</summary>
    public static bool TryParse(HttpRequest request, DateTimeOffset anchor, DateTimeOffset now, out TimeShift shift, out string? error)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!request.QueryString.HasValue)
        {
            shift = None;
            error = null;
            return true;
        }

        return TryParse(request.Query, anchor, now, out shift, out error);
    }

    public static bool TryParse(IQueryCollection query, DateTimeOffset anchor, DateTimeOffset now, out TimeShift shift, out string? error)
    {
        ArgumentNullException.ThrowIfNull(query);
        shift = None;
        error = null;
        double? from = null, to = null;
        double delay = 0;
        if (query["start"].ToString() is { Length: > 0 } start)
        {
            if (!WallClock.TryParse(start, out var time))
            {
                error = "start must be an ISO 8601 time or Unix seconds";
                return false;
            }

            from = (time - anchor).TotalSeconds;
        }

        if (query["end"].ToString() is { Length: > 0 } end)
        {
            if (!WallClock.TryParse(end, out var time))
            {
                error = "end must be an ISO 8601 time or Unix seconds";
                return false;
            }

            to = (time - anchor).TotalSeconds;
        }

        if (query["delay"].ToString() is { Length: > 0 } delayText
            && (!double.TryParse(delayText, NumberStyles.Float, CultureInfo.InvariantCulture, out delay) || !double.IsFinite(delay) || delay < 0 || delay > 7 * 86400))
        {
            error = "delay is a number of seconds (0 to 604800)";
            return false;
        }

        if (from is not null && to is not null && to <= from)
        {
            error = "end must come after start";
            return false;
        }

        shift = from is null && to is null && delay == 0 ? None : new TimeShift(from, to, delay) { NowSeconds = (now - anchor).TotalSeconds };
        return true;
    }

    /// <summary>
    /// Which of <paramref name="count"/> fragments to list: [Start ?? window start, End), and whether the
    /// requested end has been reached (the presentation is then closed, like VOD).
    /// </summary>
    public (int? Start, int End, bool Closed) Select(FragmentEntry[] fragments, int count, long timescale)
    {
        ArgumentNullException.ThrowIfNull(fragments);
        var scale = (double)timescale;
        var end = count;
        var limit = Math.Min(ToSeconds ?? double.MaxValue, DelaySeconds > 0 ? NowSeconds - DelaySeconds : double.MaxValue);
        while (end > 0 && fragments[end - 1].End / scale > limit + (0.5 * fragments[end - 1].Duration / scale))
        {
            end--;
        }

        int? start = null;
        if (FromSeconds is { } from)
        {
            var first = 0;
            while (first < end && fragments[first].End / scale <= from)
            {
                first++;
            }

            start = first;
        }

        var closed = ToSeconds is { } to && count > 0 && fragments[count - 1].End / scale >= to;
        return (start, end, closed);
    }

    /// <summary>
    /// Whether the presentation this answer shows is live: the point is, or a delay's edge has not yet reached the end
    /// of what the point holds (a delayed viewer of an event that ended watches it to its end, live, rather than get a
    /// VOD cut at the delayed edge: the last delay's worth of the event lost, and cached as VOD for an hour).
    /// </summary>
    public bool SeesLive(Point point)
    {
        ArgumentNullException.ThrowIfNull(point);
        if (point.State != PointState.Vod)
        {
            return true;
        }

        if (DelaySeconds <= 0 || ToSeconds is not null)
        {
            return false;
        }

        return NowSeconds - DelaySeconds < point.MediaEndSeconds();
    }

    public string CacheKey => IsNone ? string.Empty : string.Create(CultureInfo.InvariantCulture, $"?{FromSeconds}|{ToSeconds}|{DelaySeconds}");
}
