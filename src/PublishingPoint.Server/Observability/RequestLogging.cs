using System.Diagnostics;

namespace PublishingPoint.Server.Observability;

/// <summary>One structured log line per request, and the per-format request and byte counters.</summary>
internal sealed partial class RequestLogging(RequestDelegate next, Metrics metrics, ILogger<RequestLogging> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            var response = context.Response;
            var bytes = response.ContentLength ?? 0;
            var format = Classify(context.Request);
            metrics.Served(format, response.StatusCode, HttpMethods.IsHead(context.Request.Method) ? 0 : bytes);
            if (logger.IsEnabled(LogLevel.Information))
            {
                // The path as it came on the wire (percent-encoded): a decoded %0a would forge a log line.
                Log(logger, context.Request.Method, context.Request.Path.ToUriComponent(), response.StatusCode, bytes, Stopwatch.GetElapsedTime(started).TotalMilliseconds, format);
            }
        }
    }

    /// <summary>Which output (or input) a request belongs to, for the metrics.</summary>
    internal static string Classify(HttpRequest request)
    {
        var path = request.Path.Value ?? string.Empty;
        if (HttpMethods.IsPost(request.Method) || HttpMethods.IsPut(request.Method) || HttpMethods.IsDelete(request.Method))
        {
            return path.StartsWith("/api/", StringComparison.Ordinal) ? "api" : "ingest";
        }

        if (path.EndsWith("/Manifest", StringComparison.OrdinalIgnoreCase) || path.Contains("/QualityLevels(", StringComparison.OrdinalIgnoreCase))
        {
            return "smooth";
        }

        if (path.EndsWith(".m3u8", StringComparison.Ordinal) || path.Contains(".isml/hls/", StringComparison.Ordinal))
        {
            return "hls";
        }

        if (path.EndsWith(".mpd", StringComparison.Ordinal))
        {
            return "dash";
        }

        return path.StartsWith("/api/", StringComparison.Ordinal) || path.StartsWith("/dashboard", StringComparison.Ordinal) ? "admin" : "other";
    }

    [LoggerMessage(EventId = 500, Level = LogLevel.Information, Message = "{Method} {Path} -> {Status} {Bytes} bytes in {Milliseconds:0.0} ms ({Format})")]
    private static partial void Log(ILogger logger, string method, string path, int status, long bytes, double milliseconds, string format);
}
