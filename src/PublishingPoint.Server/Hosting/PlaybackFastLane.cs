using System.Collections.Frozen;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Net.Http.Headers;

namespace PublishingPoint.Server.Hosting;

/// <summary>
/// Players' requests for a point that exists, ahead of endpoint routing: routing would only match them to the catch-all
/// and hand them to <see cref="PointRequestRouter"/> anyway, after making a route-value dictionary and the path's string
/// for it, and looking up the CORS metadata, on every segment and playlist. Taken here only when nothing else would
/// answer differently: GET or HEAD, no Origin header while every origin is allowed (the answer then just says so, as
/// <see cref="Delivery.DeliveryCors"/> does), and a first path segment that no mapped route begins with.
/// </summary>
internal sealed class PlaybackFastLane(RequestDelegate next, PointRequestRouter router, EndpointDataSource endpoints, Microsoft.Extensions.Options.IOptions<Configuration.PublishingPointOptions> options)
{
    private readonly bool _anyOrigin = Delivery.DeliveryCors.AllowsAnyOrigin(options.Value);
    private FrozenSet<string>? _routed;

    public Task InvokeAsync(HttpContext context)
    {
        if (_anyOrigin && !context.Request.Headers.ContainsKey(HeaderNames.Origin) && router.TryFindPlayback(context, out var point, out var rest)
            && !Routed(context.Request.Path.Value!))
        {
            context.Response.Headers.AccessControlAllowOrigin = "*";
            return router.PlayAsync(context, point, rest);
        }

        return next(context);
    }

    private bool Routed(string path)
    {
        _routed ??= FirstSegments(endpoints);
        var first = path.AsSpan(1);
        var slash = first.IndexOf('/');
        return _routed.GetAlternateLookup<ReadOnlySpan<char>>().Contains(slash < 0 ? first : first[..slash]);
    }

    /// <summary>The literal first segments of every mapped route ("api", "health", "metrics", ...), as routing compares them.</summary>
    internal static FrozenSet<string> FirstSegments(EndpointDataSource endpoints) =>
        endpoints.Endpoints.OfType<RouteEndpoint>()
            .Select(e => e.RoutePattern.PathSegments.Count > 0 && e.RoutePattern.PathSegments[0].Parts[0] is RoutePatternLiteralPart literal ? literal.Content : null)
            .OfType<string>()
            .ToFrozenSet(StringComparer.OrdinalIgnoreCase);
}
