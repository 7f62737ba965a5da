using System.Collections.Frozen;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Net.Http.Headers;

namespace PublishingPoint.Server.Hosting;

/// <summary>
/// Players' requests for a point that exists, ahead of endpoint routing: routing would only match them to the catch-all
/// and hand them to <see cref="PointRequestRouter"/> anyway, after making a route-value dictionary and the path's string
/// for it, and looking up the CORS metadata, on every segment and playlist. Taken here only when nothing else would
/// answer differently: GET or HEAD while every origin is allowed, and a first path segment that no mapped route begins
/// with. Without an Origin header the answer just says every origin may read it, as <see cref="Delivery.DeliveryCors"/>
/// does; with one (a page's cross-origin request) it gets the delivery policy's result from ASP.NET Core's CORS
/// service, as the CORS middleware would give it (the same for every origin under that policy).
/// </summary>
/// <remarks>
/// With <see cref="Configuration.PublishingPointOptions.AnswerReplay"/>, an answer here that could be given again as it
/// is (<see cref="Delivery.AnswerStore.Recordable"/>) is kept for <see cref="Transport.AnswerReplay"/>.
/// </remarks>
internal sealed class PlaybackFastLane(RequestDelegate next, PointRequestRouter router, EndpointDataSource endpoints,
    Microsoft.Extensions.Options.IOptions<Configuration.PublishingPointOptions> options, Delivery.AnswerStore answers,
    ICorsService cors, Microsoft.Extensions.Options.IOptions<CorsOptions> corsOptions)
{
    // Stands for "a route's first segment is not one plain literal": routing keeps every request.
    private static readonly FrozenSet<string> EveryRequest = FrozenSet.Create(StringComparer.Ordinal, "\0every");

    private readonly bool _anyOrigin = Delivery.DeliveryCors.AllowsAnyOrigin(options.Value);

    private readonly CorsPolicy? _policy = corsOptions.Value.GetPolicy(Delivery.DeliveryCors.Policy);

    private readonly bool _replay = options.Value.AnswerReplay;

    // Read when the pipeline is built, after every route was mapped and before the server listens: the first read
    // builds every endpoint under routing's lock, which the first players' requests would otherwise wait on (seconds
    // when 200 channels and their viewers arrive at once on a fresh process).
    private readonly FrozenSet<string> _routed = FirstSegments(endpoints) ?? EveryRequest;

    public Task InvokeAsync(HttpContext context)
    {
        if (_anyOrigin && _policy is not null && router.TryFindPlayback(context, out var point, out var rest) && !Routed(context.Request.Path.Value!))
        {
            // An Origin the CORS service does not take (an empty one) gets no CORS headers: that answer is not kept, since
            // a page's next request would be given it again.
            var keep = _replay;
            if (context.Request.Headers.ContainsKey(HeaderNames.Origin))
            {
                var result = cors.EvaluatePolicy(context, _policy);
                cors.ApplyResult(result, context.Response);
                keep &= result.IsOriginAllowed;
            }
            else
            {
                context.Response.Headers.AccessControlAllowOrigin = "*";
            }

            return keep && Delivery.AnswerStore.Recordable(context) ? PlayAndKeepAsync(context, point, rest) : router.PlayAsync(context, point, rest);
        }

        return next(context);
    }

    private async Task PlayAndKeepAsync(HttpContext context, Points.Point point, string rest)
    {
        var note = new Delivery.AnswerNote();
        context.Features.Set(note);
        await router.PlayAsync(context, point, rest).ConfigureAwait(false);
        answers.Record(context, point, note, Observability.RequestObservation.Classify(context.Request), Observability.RequestObservation.CountsViewer(context.Request.Path.Value!));
    }

    private bool Routed(string path)
    {
        if (ReferenceEquals(_routed, EveryRequest))
        {
            return true;
        }

        var first = path.AsSpan(1);
        var slash = first.IndexOf('/');
        return _routed.GetAlternateLookup<ReadOnlySpan<char>>().Contains(slash < 0 ? first : first[..slash]);
    }

    /// <summary>
    /// The first segments of every mapped route ("api", "health", "metrics", ...), as routing compares them; null when a
    /// route other than a catch-all begins with anything but one plain literal ("v{version}", "{tenant}"): routing then
    /// keeps every request, since no first segment alone says which it would match.
    /// </summary>
    internal static FrozenSet<string>? FirstSegments(EndpointDataSource endpoints)
    {
        var names = new List<string>();
        foreach (var endpoint in endpoints.Endpoints.OfType<RouteEndpoint>())
        {
            var segments = endpoint.RoutePattern.PathSegments;
            if (segments.Count == 0)
            {
                continue;
            }

            switch (segments[0].Parts)
            {
                case [RoutePatternLiteralPart literal]:
                    names.Add(literal.Content);
                    break;
                case [RoutePatternParameterPart { IsCatchAll: true }]:
                    break;
                default:
                    return null;
            }
        }

        return names.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
    }
}
