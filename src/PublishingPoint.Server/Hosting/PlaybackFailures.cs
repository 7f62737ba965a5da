using PublishingPoint.Server.Configuration;

namespace PublishingPoint.Server.Hosting;

/// <summary>
/// A player's request that failed on something no handler foresaw (a disk that fails a read, say): it is answered
/// with a 503 problem that keeps the CORS headers and says to come back, and logged as an error with the exception,
/// the first one and then at most one every 10 s with the count held back, so a failing disk under a crowd of
/// players does not fill the log.
/// </summary>
internal sealed partial class PlaybackFailures(ILogger logger)
{
    private readonly LogGate _gate = new(TimeSpan.FromSeconds(10));

    public async Task AnswerAsync(HttpContext context, string point, Exception error)
    {
        if (_gate.Pass(out var held))
        {
            Failed(logger, context.Request.Path.Value ?? point, held, error);
        }

        KeepOnlyCors(context.Response);
        context.Response.Headers.RetryAfter = "2";
        await Problems.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
            $"this resource of {point} cannot be read now ({error.GetType().Name}): try again shortly").ConfigureAwait(false);
    }

    // What the handler set for the answer it meant to give (its ETag, caching, range) must not go out with the problem;
    // what the CORS middleware set before it must, or a browser sees no answer at all.
    private static void KeepOnlyCors(HttpResponse response)
    {
        var kept = response.Headers
            .Where(h => h.Key.StartsWith("Access-Control-", StringComparison.OrdinalIgnoreCase) || h.Key.Equals("Vary", StringComparison.OrdinalIgnoreCase))
            .ToList();
        response.Clear();
        foreach (var (name, value) in kept)
        {
            response.Headers[name] = value;
        }
    }

    [LoggerMessage(EventId = 116, Level = LogLevel.Error, Message = "Playback request {Path} failed and was answered 503 ({Held} more since the last such line)")]
    private static partial void Failed(ILogger logger, string path, long held, Exception error);
}
