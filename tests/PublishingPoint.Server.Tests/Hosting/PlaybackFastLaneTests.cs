using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using PublishingPoint.Server.Hosting;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hosting;

/// <summary>
/// Players' GETs skip endpoint routing (PlaybackFastLane) while every origin may read; a request with an Origin gets its
/// CORS headers there from ASP.NET Core's CORS service. Where only some origins may read, such requests go through
/// routing and the CORS middleware. Either way a player must get the same answer, and a point whose name begins like an
/// operator route must not take that route's URLs.
/// </summary>
public sealed class PlaybackFastLaneTests
{
    private const string PlayerOrigin = "https://player.example";

    [Fact]
    public async Task AnswersTakenAheadOfRouting_AreTheRoutedAnswers()
    {
        // Two servers on one stopped clock, so that what they write of the wall clock (a playlist's date, Last-Modified) agrees.
        var start = new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
        await using var fast = await RunningServer.StartWithClockAsync(new FakeTimeProvider(start));
        await using var routed = await RunningServer.StartWithClockAsync(new FakeTimeProvider(start), $"--PublishingPoint:CorsOrigins:0={PlayerOrigin}");
        var capture = await IsmvCapture.SixSecondsAsync();
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(fast.Http, "live/lane.isml/Streams(a)", capture)).Status);
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(routed.Http, "live/lane.isml/Streams(a)", capture)).Status);
        var manifest = await SmoothManifestView.FetchVodAsync(fast.Http, "live/lane.isml/Manifest");
        string[] urls =
        [
            "live/lane.isml/Manifest", manifest.Url("video", 400000, manifest.ChunkTimes("video")[1]), "live/lane.isml/QualityLevels(400000)/Init(video)",
            "live/lane.isml/master.m3u8", "live/lane.isml/master-fmp4.m3u8", "live/lane.isml/hls/video-400000.m3u8", "live/lane.isml/hls/video-400000/1.ts",
            "live/lane.isml/hls/video-400000/1.m4s", "live/lane.isml/manifest.mpd", "live/lane.isml/unknown",
            "live/lane.isml/hls/video-400000/9999.ts", "live/lane.isml/QualityLevels(1)/Fragments(video=0)", "live/lane.isml/hls/video-400000.m3u8?_HLS_msn=-1",
        ];
        foreach (var method in new[] { HttpMethod.Get, HttpMethod.Head })
        {
            foreach (var url in urls)
            {
                var player = await AskAsync(fast.Http, method, url, origin: null);
                var page = await AskAsync(fast.Http, method, url, PlayerOrigin);
                var routedPage = await AskAsync(routed.Http, method, url, PlayerOrigin);
                foreach (var (name, answer) in new[] { ("without an Origin", player), ("with an Origin", page) })
                {
                    Assert.True(answer.Status == routedPage.Status, $"{method} {url} {name}: {answer.Status} ahead of routing, {routedPage.Status} routed");
                    Assert.True(answer.Body.AsSpan().SequenceEqual(routedPage.Body), $"{method} {url} {name}: bodies differ ({answer.Body.Length} and {routedPage.Body.Length} bytes)");
                    Assert.Equal(routedPage.Headers, answer.Headers);
                    Assert.Equal("*", answer.AllowOrigin);
                    Assert.False(answer.VariesByOrigin, $"{method} {url} {name}: Vary: Origin where every origin gets the same answer");
                }

                // The CORS headers a page reads by: the policy's, as the middleware gives them; none of them for a player.
                Assert.Equal(PlayerOrigin, routedPage.AllowOrigin);
                Assert.True(routedPage.VariesByOrigin, $"{method} {url}: no Vary: Origin where only some origins may read");
                Assert.NotNull(routedPage.ExposeHeaders);
                Assert.Equal(routedPage.ExposeHeaders, page.ExposeHeaders);
                Assert.Null(player.ExposeHeaders);
            }
        }
    }

    [Fact]
    public async Task APointNamedLikeAnOperatorRoute_OrSplitOtherwiseByTheRouter_IsAnsweredAsRouted()
    {
        using var server = new InProcessServer("PublishingPoint:AdminApiKey=lane-key");
        server.Http.DefaultRequestHeaders.Add("X-Api-Key", "lane-key");
        var routed = PlaybackFastLane.FirstSegments(server.Services.GetRequiredService<EndpointDataSource>());
        Assert.NotNull(routed);
        Assert.Superset(new HashSet<string>(["api", "health", "metrics", "time", "openapi", "scalar"]), routed.ToHashSet(StringComparer.OrdinalIgnoreCase));
        Assert.DoesNotContain(routed, s => s.Contains('{', StringComparison.Ordinal));

        // "api/points/live/x.isml" is no point name (no player could reach it: GET /api/points/{**path} is the operator
        // API's), and the lane leaves that request to routing.
        using var created = await server.Http.PostAsJsonAsync("api/points", new { path = "api/points/live/x.isml" });
        Assert.Equal(HttpStatusCode.BadRequest, created.StatusCode);
        using var answer = await server.Http.GetAsync("api/points/live/x.isml/Manifest");
        Assert.Equal(HttpStatusCode.BadRequest, answer.StatusCode);
        Assert.Contains("ends with '.isml'", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(answer.Headers.Contains("Access-Control-Allow-Origin"));

        // A name the router would split elsewhere ("live/A.ISML" first, which is no point name) is no point name either
        // (no point inside another), and its playback is refused here as there.
        using var odd = await server.Http.PostAsJsonAsync("api/points", new { path = "live/A.ISML/ch1.isml" });
        Assert.Equal(HttpStatusCode.BadRequest, odd.StatusCode);
        using var refused = await server.Http.GetAsync("live/A.ISML/ch1.isml/Manifest");
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
    }

    [Theory]
    [InlineData("/v{version}/points")]
    [InlineData("/{tenant}/points")]
    [InlineData("/live{x}")]
    public void ARouteWhoseFirstSegmentIsNotOnePlainLiteral_KeepsEveryRequestOnRouting(string pattern)
    {
        var endpoints = new DefaultEndpointDataSource(
            new RouteEndpoint(_ => Task.CompletedTask, RoutePatternFactory.Parse("/api/points"), 0, null, "api"),
            new RouteEndpoint(_ => Task.CompletedTask, RoutePatternFactory.Parse("/{**path}"), 0, null, "catch-all"),
            new RouteEndpoint(_ => Task.CompletedTask, RoutePatternFactory.Parse(pattern), 0, null, "new"));
        Assert.Null(PlaybackFastLane.FirstSegments(endpoints));
        Assert.Equal(["api"], PlaybackFastLane.FirstSegments(new DefaultEndpointDataSource(endpoints.Endpoints.Take(2)))!);
    }

    /// <summary>
    /// Status, every header but Date and CORS's (Access-Control-*, and Origin in Vary: they depend on the policy, and are
    /// returned apart), and the body.
    /// </summary>
    private static async Task<Answer> AskAsync(HttpClient http, HttpMethod method, string url, string? origin)
    {
        using var request = new HttpRequestMessage(method, url);
        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        using var response = await http.SendAsync(request);
        var all = response.Headers.Concat(response.Content.Headers).ToList();
        var headers = all
            .Where(h => h.Key is not ("Date" or "Access-Control-Allow-Origin" or "Access-Control-Expose-Headers"))
            .Select(h => (h.Key, Values: h.Key == "Vary" ? h.Value.Where(v => v != "Origin").ToList() : h.Value.ToList()))
            .Where(h => h.Values.Count > 0)
            .Select(h => $"{h.Key}: {string.Join(", ", h.Values)}")
            .Order(StringComparer.Ordinal)
            .ToList();
        string? Header(string name) => all.Where(h => h.Key == name).Select(h => string.Join(", ", h.Value)).SingleOrDefault();
        return new(response.StatusCode, headers, await response.Content.ReadAsByteArrayAsync(), Header("Access-Control-Allow-Origin"), Header("Access-Control-Expose-Headers"),
            response.Headers.Vary.Contains("Origin"));
    }

    private sealed record Answer(HttpStatusCode Status, List<string> Headers, byte[] Body, string? AllowOrigin, string? ExposeHeaders, bool VariesByOrigin);
}
