using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using PublishingPoint.Server.Hosting;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hosting;

/// <summary>
/// Players' GETs without an Origin header skip endpoint routing (PlaybackFastLane); a request with an Origin still goes
/// through routing and the CORS middleware. Either way a player must get the same answer, and a point whose name begins
/// like an operator route must not take that route's URLs.
/// </summary>
public sealed class PlaybackFastLaneTests
{
    private const string PlayerOrigin = "https://player.example";

    [Fact]
    public async Task AnswersTakenAheadOfRouting_AreTheRoutedAnswers()
    {
        using var server = new InProcessServer();
        var capture = await IsmvCapture.SixSecondsAsync();
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/lane.isml/Streams(a)", capture)).Status);
        var manifest = await SmoothManifestView.FetchVodAsync(server.Http, "live/lane.isml/Manifest");
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
                var (fastStatus, fastHeaders, fastBody) = await AskAsync(server.Http, method, url, origin: null);
                var (routedStatus, routedHeaders, routedBody) = await AskAsync(server.Http, method, url, PlayerOrigin);
                Assert.True(fastStatus == routedStatus, $"{method} {url}: {fastStatus} ahead of routing, {routedStatus} routed");
                Assert.True(fastBody.AsSpan().SequenceEqual(routedBody), $"{method} {url}: bodies differ ({fastBody.Length} and {routedBody.Length} bytes)");
                Assert.Equal(routedHeaders, fastHeaders);
                Assert.Contains("Access-Control-Allow-Origin: *", fastHeaders);
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

        // "api/points/live/x.isml" is a valid point name; GET /api/points/{**path} is still the operator API's.
        using var created = await server.Http.PostAsJsonAsync("api/points", new { path = "api/points/live/x.isml" });
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
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

    /// <summary>Status, every header but Date and CORS's list of exposed headers (an answer to a request with an Origin only), and the body.</summary>
    private static async Task<(HttpStatusCode Status, List<string> Headers, byte[] Body)> AskAsync(HttpClient http, HttpMethod method, string url, string? origin)
    {
        using var request = new HttpRequestMessage(method, url);
        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        using var response = await http.SendAsync(request);
        var headers = response.Headers.Concat(response.Content.Headers)
            .Where(h => h.Key is not ("Date" or "Access-Control-Expose-Headers"))
            .Select(h => $"{h.Key}: {string.Join(", ", h.Value)}")
            .Order(StringComparer.Ordinal)
            .ToList();
        return (response.StatusCode, headers, await response.Content.ReadAsByteArrayAsync());
    }
}
