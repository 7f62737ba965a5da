using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using PublishingPoint.Server.Configuration;

namespace PublishingPoint.Server.Hosting;

/// <summary>
/// What a newcomer sees first: <c>GET /</c> is a small page naming the ingest and playback URLs (relative, so no
/// request header lands in it), and the console says where to push, where to play, the dashboard, the API document
/// and the data folder once the server listens.
/// </summary>
internal sealed partial class FrontDoor(IServer server, IHostApplicationLifetime lifetime, Points.PointRegistry registry,
    IOptions<PublishingPointOptions> options, ILogger<FrontDoor> logger) : IHostedService
{
    public const string Page = """
        <!doctype html>
        <html lang="en">
        <head><meta charset="utf-8"><title>PublishingPoint</title>
        <style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .2rem}</style></head>
        <body>
        <h1>PublishingPoint</h1>
        <p>A live-streaming origin. Encoders push to a publishing point; players pull from it in every format.</p>
        <h2>Push</h2>
        <ul>
        <li>Smooth or CMAF, one chunked POST: <code>POST /{point}.isml/Streams({id})</code>, e.g. <code>/live/ch1.isml/Streams(enc1)</code></li>
        <li>MPEG-TS, one chunked POST: the same URL</li>
        <li>HLS or DASH segments: <code>PUT /{point}.isml/{file}</code></li>
        </ul>
        <h2>Play</h2>
        <ul>
        <li>HLS: <code>/{point}.isml/master.m3u8</code> (MPEG-TS) and <code>/{point}.isml/master-fmp4.m3u8</code> (fMP4)</li>
        <li>DASH: <code>/{point}.isml/manifest.mpd</code></li>
        <li>Smooth Streaming: <code>/{point}.isml/Manifest</code></li>
        </ul>
        <h2>Operate</h2>
        <ul>
        <li><a href="dashboard">Dashboard</a> and <a href="scalar">API reference</a> (<a href="openapi/v1.json">OpenAPI document</a>): operator credential</li>
        <li><a href="health/ready">Readiness</a></li>
        </ul>
        </body>
        </html>
        """;

    public static IResult Answer(HttpContext context)
    {
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return Results.Content(Page, "text/html; charset=utf-8");
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(Announce);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void Announce()
    {
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? "http://127.0.0.1:5000";
        var secret = string.IsNullOrEmpty(options.Value.IngestSecret) ? string.Empty : "?token={IngestSecret}";
        LogIngest(logger, $"{address}/{{point}}.isml/Streams({{id}}){secret}", $"{address}/{{point}}.isml/{{file}}{secret}");
        LogPlayback(logger, $"{address}/{{point}}.isml/master.m3u8", $"{address}/{{point}}.isml/manifest.mpd", $"{address}/{{point}}.isml/Manifest");
        LogOperator(logger, $"{address}/dashboard", $"{address}/scalar", $"{address}/openapi/v1.json");
        LogData(logger, registry.DataRoot);
    }

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Ingest: POST {Streams} (Smooth, CMAF, MPEG-TS), PUT {Files} (HLS/DASH segments)")]
    private static partial void LogIngest(ILogger logger, string streams, string files);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "Playback: {Hls}, {Dash}, {Smooth}")]
    private static partial void LogPlayback(ILogger logger, string hls, string dash, string smooth);

    [LoggerMessage(EventId = 12, Level = LogLevel.Information, Message = "Operators: dashboard {Dashboard}, API reference {Reference}, API document {Document}")]
    private static partial void LogOperator(ILogger logger, string dashboard, string reference, string document);

    [LoggerMessage(EventId = 13, Level = LogLevel.Information, Message = "Data folder: {DataPath}")]
    private static partial void LogData(ILogger logger, string dataPath);
}
