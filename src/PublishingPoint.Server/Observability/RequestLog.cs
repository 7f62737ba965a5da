using Serilog.Events;

namespace PublishingPoint.Server.Observability;

/// <summary>
/// The one line per request, written by <see cref="RequestObservation"/> through Serilog (category
/// PublishingPoint.RequestLog): method, path as sent (percent-encoded), status, bytes sent, milliseconds, output format
/// and point. Its properties are gathered only for a line that is written: no per-request collector (Serilog.AspNetCore's
/// request logging keeps one in an async-local for every request, a fifth of a playlist answer's allocations).
/// Server errors at Error; a player's successful GET or HEAD of a point's media, manifest or playlist at Debug (the
/// request and byte counters in /metrics count those: a busy origin answers tens of thousands a second);
/// everything else (ingest, the API, refusals, 404s, a client that left mid-answer) at Information.
/// </summary>
internal static class RequestLog
{
    public const string Category = "PublishingPoint.RequestLog";

    /// <summary>How many lines of refused, failed (but not 500) or abandoned requests are written a second; the rest are counted.</summary>
    public const int RefusedLinesPerSecond = 50;

    public const string Template = "{RequestMethod} {Path} -> {StatusCode} {ResponseBytes} bytes in {Elapsed:0.0} ms ({Format})";

    /// <summary>A successful answer to a player: GET or HEAD under a point (or the clock), status below 400.</summary>
    public static bool IsPlayback(HttpContext context) => IsPlayback(context, RequestObservation.IsDelivery(context.Request.Path.Value));

    /// <summary>The same, when whether the path is a delivery path (<see cref="RequestObservation.IsDelivery"/>) is already known.</summary>
    public static bool IsPlayback(HttpContext context, bool delivery) =>
        delivery
        && context.Response.StatusCode < 400
        && (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method))
        && !context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal);

    /// <summary>The level of a request's line, given whether it failed with an exception.</summary>
    public static LogEventLevel LevelOf(HttpContext context, bool failed) => LevelOf(context, failed, RequestObservation.IsDelivery(context.Request.Path.Value));

    public static LogEventLevel LevelOf(HttpContext context, bool failed, bool delivery) =>
        context.RequestAborted.IsCancellationRequested ? LogEventLevel.Information // the client left: nothing went wrong here
        : failed || context.Response.StatusCode >= 500 ? LogEventLevel.Error
        : IsPlayback(context, delivery) ? LogEventLevel.Debug
        : LogEventLevel.Information;
}
