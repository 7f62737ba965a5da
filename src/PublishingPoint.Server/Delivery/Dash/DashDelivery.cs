using System.Text;
using PublishingPoint.Media.Dash;
using PublishingPoint.Server.Hosting;
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

    public static bool Handles(string rest) => rest.Equals(ManifestName, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The UTCTiming URL written into MPDs: relative to the MPD (players resolve it against the MPD's URL), so it
    /// names this origin through any proxy, CDN or signed prefix, and no request header ever lands in a cached body.
    /// </summary>
    public const string RelativeTimeUrl = "time";

    public async Task ManifestAsync(HttpContext context, Point point)
    {
        var now = registry.Time.GetUtcNow();
        var anchor = point.Anchor(now);
        if (!TimeShift.TryParse(context.Request, anchor, now, out var shift, out var problem))
        {
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, problem!).ConfigureAwait(false);
            return;
        }

        await RenderedResponses.ServeAsync(context, point, ManifestName, shift, version =>
        {
            var origin = point.PresentationOrigin ??= DashManifestBuilder.Origin(point);
            var mpd = origin is { } o
                ? DashManifestBuilder.Build(point, point.DvrWindowSeconds(registry.Options.DvrWindowSeconds), anchor, o, now, RelativeTimeUrl, shift,
                    publishTime: shift.IsNone ? point.PublishTime(version, now) : null)
                : null;
            if (mpd is null)
            {
                return null;
            }

            var bytes = Encoding.UTF8.GetBytes(MpdWriter.Write(mpd));
            var maxAge = mpd.IsDynamic ? DashManifestBuilder.LiveMaxAge(mpd) : TimeShift.FinishedMaxAge(point, shift);
            return new RenderedOutput(version, bytes, RenderedResponses.ETag('d', version, string.Empty, shift, bytes), maxAge, MpdWriter.ContentType);
        }).ConfigureAwait(false);
    }

    /// <summary>The server's UTC clock as ISO 8601 (urn:mpeg:dash:utc:http-iso:2014), for players to sync to.</summary>
    public static Task TimeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Response.Headers.CacheControl = "no-store";
        var text = MpdWriter.DateTime((context.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System).GetUtcNow());
        return Responses.BytesAsync(context, "text/plain; charset=utf-8", Encoding.ASCII.GetBytes(text));
    }
}
