using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using PublishingPoint.Media.Dash;
using PublishingPoint.Server.Delivery.Hls;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery.Dash;

/// <summary>
/// MPEG-DASH delivery: <c>/{point}.isml/manifest.mpd</c>, an MPD over the CMAF segments HLS serves (see
/// <see cref="DashManifestBuilder"/>), and <c>/time</c>, the clock its UTCTiming points at. Dynamic while the
/// point is live, static once it is VOD; rendered once per point version (and request host, which the UTCTiming
/// URL carries) and revalidated by ETag.
/// </summary>
internal sealed class DashDelivery(PointRegistry registry)
{
    public const string ManifestName = "manifest.mpd";
    public const string TimePath = "/time";
    private const int VodMaxAge = 3600;

    public static bool Handles(string rest) => rest.Equals(ManifestName, StringComparison.OrdinalIgnoreCase);

    public async Task ManifestAsync(HttpContext context, Point point)
    {
        context.Response.Headers.AccessControlAllowOrigin = "*";
        var now = DateTimeOffset.UtcNow;
        var anchor = HlsPointState.Of(point, now).Anchor;
        var state = DashPointState.Of(point);
        var request = context.Request;
        if (!TimeShift.TryParse(request.Query, anchor, out var shift, out var problem))
        {
            await Responses.ProblemAsync(context, StatusCodes.Status400BadRequest, problem!).ConfigureAwait(false);
            return;
        }

        var host = (request.Host.Value ?? "localhost") + shift.CacheKey;
        var version = point.Version;
        if (!state.Manifests.TryGetValue(host, out var cached) || cached.Version != version)
        {
            var origin = state.Origin ??= DashManifestBuilder.Origin(point);
            var mpd = origin is { } o
                ? DashManifestBuilder.Build(point, point.DvrWindowSeconds(registry.Options.DvrWindowSeconds), anchor, o, now, $"{request.Scheme}://{request.Host.Value ?? "localhost"}{TimePath}", shift)
                : null;
            if (mpd is null)
            {
                await Responses.ProblemAsync(context, StatusCodes.Status404NotFound, "nothing to play yet").ConfigureAwait(false);
                return;
            }

            var bytes = Encoding.UTF8.GetBytes(MpdWriter.Write(mpd));
            var maxAge = mpd.IsDynamic ? DashManifestBuilder.LiveMaxAge(mpd) : VodMaxAge;
            var tag = string.Create(CultureInfo.InvariantCulture, $"\"d{version:x}-{StringComparer.Ordinal.GetHashCode(host):x}-{bytes.Length:x}\"");
            cached = new CachedMpd(version, bytes, tag, maxAge);
            state.Manifests[host] = cached;
        }

        var response = context.Response;
        response.Headers.ETag = cached.ETag;
        response.Headers.CacheControl = cached.MaxAge > 0 ? $"public, max-age={cached.MaxAge}" : "no-cache";
        if (request.Headers.IfNoneMatch == cached.ETag)
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        await Responses.BytesAsync(context, MpdWriter.ContentType, cached.Bytes).ConfigureAwait(false);
    }

    /// <summary>The server's UTC clock as ISO 8601 (urn:mpeg:dash:utc:http-iso:2014), for players to sync to.</summary>
    public static Task TimeAsync(HttpContext context)
    {
        context.Response.Headers.AccessControlAllowOrigin = "*";
        context.Response.Headers.CacheControl = "no-store";
        var text = MpdWriter.DateTime(DateTimeOffset.UtcNow);
        return Responses.BytesAsync(context, "text/plain; charset=utf-8", Encoding.ASCII.GetBytes(text));
    }

    private sealed record CachedMpd(long Version, byte[] Bytes, string ETag, int MaxAge);

    /// <summary>Per point: its media origin (fixed once known, so availabilityStartTime never moves) and rendered MPDs.</summary>
    private sealed class DashPointState
    {
        private static readonly ConditionalWeakTable<Point, DashPointState> _states = [];

        public long? Origin { get; set; }

        public ConcurrentDictionary<string, CachedMpd> Manifests { get; } = new(StringComparer.Ordinal);

        public static DashPointState Of(Point point) => _states.GetValue(point, _ => new DashPointState());
    }
}
