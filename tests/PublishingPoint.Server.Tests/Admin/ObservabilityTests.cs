using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Admin;

public sealed class ObservabilityTests
{
    [Fact]
    public async Task Metrics_MoveWithIngestAndDelivery_AndHealthProbesAnswer()
    {
        await using var server = await RunningServer.StartAsync();
        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync("health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync("health/ready")).StatusCode);
        var before = await server.Http.GetStringAsync("metrics");
        Assert.Equal(0, Value(before, "publishingpoint_ingest_fragments", "live/m.isml", "video@400000"));

        var capture = await IsmvCapture.SixSecondsAsync();
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/m.isml/Streams(a)", capture)).Status);
        await server.Http.GetStringAsync("live/m.isml/hls/video-400000.m3u8");
        await server.Http.GetByteArrayAsync("live/m.isml/hls/video-400000/0.ts");
        await server.Http.GetByteArrayAsync("live/m.isml/hls/video-400000/0.ts");

        using var response = await server.Http.GetAsync("metrics");
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
        var after = await response.Content.ReadAsStringAsync();
        Assert.Equal(3, Value(after, "publishingpoint_ingest_fragments", "live/m.isml", "video@400000"));
        Assert.Equal(3, Value(after, "publishingpoint_ingest_fragments", "live/m.isml", "audio@64000"));
        Assert.True(Value(after, "publishingpoint_ingest_bytes", "live/m.isml", "video@400000") > 50_000);
        Assert.Matches(@"publishingpoint_delivery_responses\{format=""hls"",status=""200""\} [3-9]", after);
        Assert.Matches(@"publishingpoint_delivery_segment_cache_hits [1-9]", after);
        Assert.Matches(@"publishingpoint_ingest_archive_write_duration_count [1-9]", after);
        Assert.Contains("publishingpoint_points_count{state=\"vod\"} 1", after, StringComparison.Ordinal);
        // Our request duration histogram (in place of ASP.NET Core's per-request one), Kestrel's meters and the runtime's.
        Assert.Matches(@"publishingpoint_http_request_duration_seconds_count\{format=""hls""\} [3-9]", after);
        Assert.Matches(@"publishingpoint_http_request_duration_seconds_bucket\{format=""hls"",le=""10""\} [3-9]", after);
        Assert.DoesNotContain("microsoft_aspnetcore_hosting_http_server_request_duration", after, StringComparison.Ordinal);
        Assert.Contains("microsoft_aspnetcore_server_kestrel_kestrel_active_connections{", after, StringComparison.Ordinal);
        Assert.Matches(@"system_runtime_dotnet_gc_heap_total_allocated [1-9]", after);
        Assert.Matches(@"process_cpu_seconds_total [0-9]", after);
    }

    [Fact]
    public async Task SignedPlaybackUrls_AreRequired_ExpireAndCoverTheRelativeUrls()
    {
        const string SigningKey = "playback-signing-key";
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await RunningServer.StartWithClockAsync(clock, $"--PublishingPoint:PlaybackSigningKey={SigningKey}");
        var capture = await IsmvCapture.SixSecondsAsync();
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/sig.isml/Streams(a)", capture)).Status);

        Assert.Equal(HttpStatusCode.Forbidden, (await server.Http.GetAsync("live/sig.isml/master.m3u8")).StatusCode);
        using var sign = await server.Http.PostAsync("api/points/live/sig.isml/sign?ttl=600", JsonContent.Create(new { }));
        var signed = (await sign.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("url").GetString()!;
        Assert.StartsWith("/s/", signed, StringComparison.Ordinal);

        // The relative URLs of the playlists carry the token: ffmpeg pulls the whole VOD through it.
        var master = new Uri(server.BaseUrl, signed + "master.m3u8");
        var pulled = Path.Combine(TempDirectory.Create("pp-sig"), "out.ts");
        var copy = await Tool.RunAsync("ffmpeg", ["-v", "error", "-i", master.ToString(), "-c", "copy", pulled]);
        Assert.True(copy.ExitCode == 0, Tool.Describe(copy));
        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync(signed.TrimStart('/') + "Manifest")).StatusCode);

        // Ten minutes later (on the server's clock) the same URL has expired.
        clock.Advance(TimeSpan.FromSeconds(601));
        using var old = await server.Http.GetAsync(signed.TrimStart('/') + "Manifest");
        Assert.Equal(HttpStatusCode.Forbidden, old.StatusCode);
        Assert.Contains("expired", await old.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var tampered = signed.Replace("/live/sig.isml/", "/live/other.isml/", StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, (await server.Http.GetAsync(tampered.TrimStart('/') + "Manifest")).StatusCode);
    }

    [Fact]
    public async Task PlayerAnswers_AreLoggedAtDebug_RefusalsAtInformation()
    {
        var capture = new LogCapture(LogLevel.Debug);
        await using var server = await RunningServer.StartAsync(null, services => services.AddSingleton<ILoggerProvider>(capture),
            "--Serilog:MinimumLevel:Default=Information", "--Serilog:MinimumLevel:Override:PublishingPoint.RequestLog=Debug");
        Assert.False(string.IsNullOrEmpty(await server.Http.GetStringAsync("time")));
        using var missing = await server.Http.GetAsync("live/none.isml/Manifest");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        await Eventually.WaitUntilAsync(() => capture.Entries.Count(e => e.Category == "PublishingPoint.RequestLog") >= 2, "no request lines");
        var lines = capture.Entries.Where(e => e.Category == "PublishingPoint.RequestLog")
            .Select(e => (e.Level, Message: e.Message.Replace("\"", string.Empty, StringComparison.Ordinal))).ToList();
        var player = lines.Single(l => l.Message.StartsWith("GET /time -> 200", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Debug, player.Level);
        // With the line enabled for its category, it has every property (a missing one would print as "{Name}").
        Assert.DoesNotContain("{", player.Message, StringComparison.Ordinal);
        Assert.Matches(@"^GET /time -> 200 \d+ bytes in [\d.]+ ms \(\w+\)$", player.Message);
        Assert.Equal(LogLevel.Information, lines.Single(l => l.Message.StartsWith("GET /live/none.isml/Manifest -> 404", StringComparison.Ordinal)).Level);
    }

    [Fact]
    public async Task HostRequestDiagnostics_AreOffByDefault_AndCanBeTurnedBackOn()
    {
        const string Category = "Microsoft.AspNetCore.Hosting.Diagnostics";
        var quiet = new LogCapture(LogLevel.Debug);
        await using (var server = await RunningServer.StartAsync(null, services => services.AddSingleton<ILoggerProvider>(quiet), "--Serilog:MinimumLevel:Default=Debug"))
        {
            // Not enabled at any level: the host then makes no Activity and no log scope per request.
            Assert.False(server.Services.GetRequiredService<ILoggerFactory>().CreateLogger(Category).IsEnabled(LogLevel.Critical));
            Assert.False(string.IsNullOrEmpty(await server.Http.GetStringAsync("time")));
            await Eventually.WaitUntilAsync(() => quiet.Entries.Any(e => e.Category == "PublishingPoint.RequestLog"), "no request line");
            Assert.DoesNotContain(quiet.Entries, e => e.Category == Category);
        }

        var verbose = new LogCapture(LogLevel.Debug);
        await using var on = await RunningServer.StartAsync(null, services => services.AddSingleton<ILoggerProvider>(verbose),
            "--Serilog:MinimumLevel:Default=Debug", $"--Serilog:MinimumLevel:Override:{Category}=Information");
        Assert.False(string.IsNullOrEmpty(await on.Http.GetStringAsync("time")));
        await Eventually.WaitUntilAsync(() => verbose.Entries.Any(e => e.Category == Category && e.Message.Contains("/time", StringComparison.Ordinal)), "no host request line");
    }

    [Fact]
    public async Task RequestLogLine_CountsTheBytesSent_WithOrWithoutContentLength()
    {
        var capture = new LogCapture(LogLevel.Information);
        await using var server = await RunningServer.StartAsync(null, services => services.AddSingleton<ILoggerProvider>(capture), "--Serilog:MinimumLevel:Default=Information");
        var list = await server.Http.GetByteArrayAsync("api/points"); // JSON written without a Content-Length
        using var missing = await server.Http.GetAsync("live/none.isml/Manifest");
        var problem = await missing.Content.ReadAsByteArrayAsync();

        await Eventually.WaitUntilAsync(() => capture.Entries.Count(e => e.Category == "PublishingPoint.RequestLog") >= 2, "no request lines");
        var lines = capture.Entries.Where(e => e.Category == "PublishingPoint.RequestLog").Select(e => e.Message.Replace("\"", string.Empty, StringComparison.Ordinal)).ToList();
        Assert.Contains(lines, l => l.StartsWith("GET /api/points -> 200 " + list.Length.ToString(CultureInfo.InvariantCulture) + " bytes", StringComparison.Ordinal) && l.EndsWith("(admin)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("GET /live/none.isml/Manifest -> 404 " + problem.Length.ToString(CultureInfo.InvariantCulture) + " bytes", StringComparison.Ordinal));
    }

    [Fact]
    public async Task HealthChecks_LiveAlways_ReadyNamesEachCheck_AndALowDiskIsNotReady()
    {
        await using var server = await RunningServer.StartAsync();
        using var live = await server.Http.GetAsync("health/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        var ready = await server.Http.GetStringAsync("health/ready");
        Assert.StartsWith("healthy\n", ready, StringComparison.Ordinal);
        Assert.Contains("archives: healthy", ready, StringComparison.Ordinal);
        Assert.Contains("data folder: healthy, data folder writable", ready, StringComparison.Ordinal);
        Assert.Contains("object store: healthy, no object store configured", ready, StringComparison.Ordinal);
        // Anyone but an operator (here a request relayed by a proxy) gets the status lines only: no folder, free space,
        // bucket or error text.
        Assert.Equal("healthy\narchives: healthy\ndata folder: healthy\nobject store: healthy\n", await ReadyForAnyoneAsync(server));

        await using var full = await RunningServer.StartAsync(null, "--PublishingPoint:MinFreeDiskBytes=1000000000000000000");
        using var notReady = await full.Http.GetAsync("health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
        Assert.Contains("under PublishingPoint:MinFreeDiskBytes", await notReady.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("unhealthy\narchives: healthy\ndata folder: unhealthy\nobject store: healthy\n", await ReadyForAnyoneAsync(full));
        using var stillLive = await full.Http.GetAsync("health/live");
        Assert.Equal(HttpStatusCode.OK, stillLive.StatusCode);
    }

    /// <summary>
    /// GET /api/status read the disk's free space without the catch the ingest check has: a data folder gone or
    /// unreadable made it a bare 500, and the dashboard, which asked for it with the points, then showed no point.
    /// </summary>
    [Fact]
    public async Task Status_NamesTheDataFolderAndItsFreeSpace_AndStillAnswersWhenTheFolderIsGone()
    {
        await using var server = await RunningServer.StartAsync();
        using (var status = JsonDocument.Parse(await server.Http.GetStringAsync("api/status")))
        {
            Assert.Equal(Path.GetFullPath(server.DataPath), Path.GetFullPath(status.RootElement.GetProperty("dataPath").GetString()!));
            Assert.True(status.RootElement.GetProperty("freeDiskBytes").GetInt64() > 0);
            Assert.Equal(0, status.RootElement.GetProperty("points").GetInt32());
        }

        // The free space is looked at once a second at most, the last time at the first ask above: an ask that starts
        // more than a second after the delete looks again, and finds no folder.
        Directory.Delete(server.DataPath, recursive: true);
        var sinceDelete = System.Diagnostics.Stopwatch.StartNew();
        string body;
        while (true)
        {
            var started = sinceDelete.Elapsed;
            using var gone = await server.Http.GetAsync("api/status");
            body = await gone.Content.ReadAsStringAsync();
            Assert.True(gone.StatusCode == HttpStatusCode.OK, body);
            Assert.True(JsonDocument.Parse(body).RootElement.GetProperty("freeDiskBytes").GetInt64() > 0, body); // the last figure known
            if (started > TimeSpan.FromSeconds(1.1))
            {
                break;
            }

            await Task.Delay(100);
        }

        Assert.Contains("free space cannot be read", body, StringComparison.Ordinal);
    }

    private static async Task<string> ReadyForAnyoneAsync(RunningServer server)
    {
        using var relayed = new HttpRequestMessage(HttpMethod.Get, "health/ready");
        relayed.Headers.Add("X-Forwarded-For", "203.0.113.7");
        using var answer = await server.Http.SendAsync(relayed);
        return await answer.Content.ReadAsStringAsync();
    }

    private static long Value(string metrics, string name, string point, string track)
    {
        var match = Regex.Match(metrics, $@"^{name}\{{point=""{Regex.Escape(point)}"",track=""{Regex.Escape(track)}""\}} (\d+)$", RegexOptions.Multiline);
        return match.Success ? long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }
}
