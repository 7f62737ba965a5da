using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Security;

/// <summary>With an ingest secret set, every method that changes a point (any file type, any verb) needs it.</summary>
public sealed class IngestAuthenticationTests
{
    private const string Secret = "s3cret-ingest-token";

    /// <summary>
    /// Each refused request was a warning of its own besides its request line (a review's finding): anyone could fill the
    /// log (the async sink's bound then drops every point's lines) with requests that need no secret to send, even with
    /// request lines turned down to Warning. The first of each status is logged, then one every 10 s with the count.
    /// </summary>
    [Fact]
    public async Task AFloodOfRefusedRequests_IsOneWarningLine_NotOneARequest()
    {
        var capture = new LogCapture();
        await using var server = await RunningServer.StartAsync(null,
            services => Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(services, capture),
            $"--PublishingPoint:IngestSecret={Secret}", "--Serilog:MinimumLevel:Override:PublishingPoint.RequestLog=Warning");
        var started = DateTime.UtcNow;
        for (var i = 0; i < 300; i++)
        {
            using var refused = await server.Http.PostAsync($"live/flood{i}.isml/Streams(a)", new ByteArrayContent([1]));
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        var tenSecondPeriods = (int)((DateTime.UtcNow - started).TotalSeconds / 10) + 1;
        var lines = capture.Entries.Count(e => e.Message.Contains("refused with 401", StringComparison.Ordinal));
        Assert.InRange(lines, 1, tenSecondPeriods);
    }

    /// <summary>
    /// The refusal warnings were gated by status alone: a flood of bad playback paths (400) held back, for 10 s at a
    /// time, the warning that says why an encoder's push was refused with the same status (a review's finding).
    /// </summary>
    [Fact]
    public async Task AFloodOfBadPlaybackPaths_DoesNotHideAnEncodersRefusal()
    {
        var capture = new LogCapture();
        await using var server = await RunningServer.StartAsync(null,
            services => Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(services, capture));
        for (var i = 0; i < 20; i++)
        {
            using var bad = await server.Http.GetAsync($"live/bad$name{i}.isml/Manifest");
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }

        using var push = await server.Http.PostAsync("live/good.isml/Streams(a$b)", new ByteArrayContent([1]));
        Assert.Equal(HttpStatusCode.BadRequest, push.StatusCode);
        Assert.Contains(capture.Entries, e => e.Message.Contains("stream id", StringComparison.Ordinal));
    }

    /// <summary>
    /// With the shipped level (request lines at Information), each refused request was a line: a flood of 404s at
    /// line rate filled the async sink, which then drops every other line, an archive's failure among them (a review's
    /// finding). Such lines are written at most 50 a second, and the next second's first says how many were held back.
    /// </summary>
    [Fact]
    public async Task AFloodOfNotFound_WritesAtMost50RequestLinesASecond_AndSaysHowManyItHeldBack()
    {
        var capture = new LogCapture(Microsoft.Extensions.Logging.LogLevel.Information);
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await RunningServer.StartAsync(null,
            services => Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton<TimeProvider>(
                Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(services, capture), clock),
            "--Serilog:MinimumLevel:Override:PublishingPoint.RequestLog=Information");
        var started = DateTime.UtcNow;
        for (var i = 0; i < 600; i++)
        {
            using var missing = await server.Http.GetAsync($"live/none{i}.isml/Manifest");
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        var seconds = (int)Math.Ceiling((DateTime.UtcNow - started).TotalSeconds) + 1;
        var written = capture.Entries.Count(e => e.Message.Contains("-> 404", StringComparison.Ordinal));
        Assert.InRange(written, 1, 50 * seconds);
        Assert.True(written < 600, $"{written} lines for 600 refused requests in {seconds} s");

        clock.Advance(TimeSpan.FromSeconds(1)); // into another second on the server's clock: its first line brings the count
        using (await server.Http.GetAsync("live/after.isml/Manifest"))
        {
        }

        // The line is written once the answer is (the client may have it first).
        await Eventually.WaitUntilAsync(() => capture.Entries.Any(e => e.Message.Contains("were held back", StringComparison.Ordinal)), "no count of the lines held back");
        var summaries = capture.Entries.Where(e => e.Message.Contains("were held back", StringComparison.Ordinal)).ToList();
        Assert.All(summaries, s => Assert.Matches("^[1-9][0-9]* request lines", s.Message));
    }

    /// <summary>
    /// Without a secret, ingest is open to encoders on this machine only. A reverse proxy or tunnel in front of the
    /// loopback server relays anyone's request from loopback, with forwarding headers: such a push is refused unless
    /// AllowAnonymousIngest opens ingest to all (a review's finding: anyone behind the relay could push to or end a point).
    /// </summary>
    [Fact]
    public async Task WithoutASecret_ARelayedPush_Gets403_UnlessAnonymousIngestIsAllowed()
    {
        var capture = await IsmvCapture.SixSecondsAsync();
        static HttpRequestMessage Relayed(byte[] body)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "live/relay.isml/Streams(a)") { Content = new ByteArrayContent(body) };
            request.Headers.Add("X-Forwarded-For", "203.0.113.7");
            return request;
        }

        await using (var server = await RunningServer.StartAsync())
        {
            using var refused = await server.Http.SendAsync(Relayed(capture));
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Contains("only to encoders on this machine", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.False(Directory.Exists(Path.Combine(server.DataPath, "live", "relay.isml")));
            Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/relay.isml/Streams(a)", capture)).Status);
        }

        await using var open = await RunningServer.StartAsync(null, "--PublishingPoint:AllowAnonymousIngest=true");
        using var taken = await open.Http.SendAsync(Relayed(capture));
        Assert.Equal(HttpStatusCode.OK, taken.StatusCode);
    }

    [Theory]
    [InlineData("PUT", "evil.m3u8", "#EXTM3U\n#EXT-X-ENDLIST\n")]
    [InlineData("POST", "evil.m3u8", "#EXTM3U\n#EXT-X-ENDLIST\n")]
    [InlineData("PUT", "evil.mpd", "<MPD type=\"static\"></MPD>")]
    [InlineData("DELETE", "chunk-stream0-00001.m4s", "")]
    [InlineData("PUT", "index0.ts", "x")]
    [InlineData("PUT", "init.mp4", "x")]
    [InlineData("POST", "Streams(enc9)", "x")]
    public async Task ChangeWithoutTheSecret_Gets401_AndTheLivePointStaysLive(string method, string file, string body)
    {
        await using var server = await RunningServer.StartAsync(null, $"--PublishingPoint:IngestSecret={Secret}");
        var capture = await IsmvCapture.SixSecondsAsync();
        var secondMoof = Boxes.TopLevel(capture).Where(b => b.Type == "moof").ElementAt(2).Offset;
        await using var push = await HeldPush.StartAsync(server.BaseUrl, $"/live/ch5.isml/Streams(enc1)?token={Secret}");
        await push.SendAsync(capture.AsMemory(0, secondMoof));
        await WaitForStateAsync(server, "live/ch5.isml", "live");

        using var anonymous = new HttpRequestMessage(new HttpMethod(method), $"live/ch5.isml/{file}") { Content = new StringContent(body, Encoding.UTF8) };
        using var refused = await server.Http.SendAsync(anonymous);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);

        using var wrong = new HttpRequestMessage(new HttpMethod(method), $"live/ch5.isml/{file}?token=guess") { Content = new StringContent(body, Encoding.UTF8) };
        using var forbidden = await server.Http.SendAsync(wrong);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);

        Assert.Equal("live", await StateAsync(server, "live/ch5.isml"));
    }

    [Fact]
    public async Task PlaylistWithTheSecret_StillEndsTheStream()
    {
        await using var server = await RunningServer.StartAsync(null, $"--PublishingPoint:IngestSecret={Secret}");
        var capture = await IsmvCapture.SixSecondsAsync();
        var secondMoof = Boxes.TopLevel(capture).Where(b => b.Type == "moof").ElementAt(2).Offset;
        await using (var push = await HeldPush.StartAsync(server.BaseUrl, $"/live/ch5.isml/Streams(enc1)?token={Secret}"))
        {
            await push.SendAsync(capture.AsMemory(0, secondMoof));
            await WaitForStateAsync(server, "live/ch5.isml", "live");
            using var content = new StringContent("#EXTM3U\n#EXT-X-ENDLIST\n", Encoding.UTF8);
            using var ended = await server.Http.PutAsync($"live/ch5.isml/index.m3u8?token={Secret}", content);
            Assert.Equal(HttpStatusCode.NoContent, ended.StatusCode);
        }

        await WaitForStateAsync(server, "live/ch5.isml", "vod");
    }

    [Fact]
    public async Task SegmentFilesOnAPointThatRefusesSegments_Get403()
    {
        await using var server = await RunningServer.StartAsync();
        using var create = await server.Http.PostAsJsonAsync("api/points", new { path = "live/fmp4only.isml", allowedIngest = new[] { "Fmp4" } });
        Assert.Equal(HttpStatusCode.Created, create.StatusCode);
        foreach (var method in new[] { HttpMethod.Put, HttpMethod.Delete })
        {
            using var request = new HttpRequestMessage(method, "live/fmp4only.isml/index.m3u8") { Content = new StringContent("#EXTM3U\n#EXT-X-ENDLIST\n") };
            using var response = await server.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        }
    }

    internal static async Task<string?> StateAsync(RunningServer server, string point)
    {
        using var response = await server.Http.GetAsync($"api/points/{point}");
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("state").GetString();
    }

    internal static Task WaitForStateAsync(RunningServer server, string point, string state) =>
        Eventually.WaitUntilAsync(async () => await StateAsync(server, point) == state, $"{point} never became '{state}'", TimeSpan.FromSeconds(20));
}
