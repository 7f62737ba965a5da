using Serilog.AspNetCore;
using Serilog.Events;

namespace PublishingPoint.Server.Observability;

/// <summary>
/// The one line per request (Serilog.AspNetCore's request logging, category Serilog.AspNetCore.RequestLoggingMiddleware):
/// method, path as sent (percent-encoded), status, bytes sent, milliseconds, output format and point.
/// Server errors at Error, everything else (a client that left mid-answer included) at Information.
/// </summary>
internal static class RequestLog
{
    public const string Template = "{RequestMethod} {Path} -> {StatusCode} {ResponseBytes} bytes in {Elapsed:0.0} ms ({Format})";

    public static void Configure(RequestLoggingOptions options, Serilog.ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Logger = logger;
        options.MessageTemplate = Template;
        options.GetLevel = static (context, _, exception) =>
            context.RequestAborted.IsCancellationRequested ? LogEventLevel.Information // the client left: nothing went wrong here
            : exception is not null || context.Response.StatusCode >= 500 ? LogEventLevel.Error
            : LogEventLevel.Information;
    }
}
