using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Security;

/// <summary>A player on another web origin can load every delivery answer, errors and preflights included; operator routes stay closed to it.</summary>
public sealed class CorsTests
{
    private const string PlayerOrigin = "https://player.example";

    [Fact]
    public async Task EveryDeliveryAnswer_AndItsPreflight_CarryCors()
    {
        using var server = new InProcessServer();
        var capture = await IsmvCapture.SixSecondsAsync();
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/cors.isml/Streams(a)", capture)).Status);
        var manifest = await SmoothManifestView.FetchVodAsync(server.Http, "live/cors.isml/Manifest");
        var fragment = manifest.Url("video", 400000, manifest.ChunkTimes("video")[0]);

        string[] urls =
        [
            "live/cors.isml/Manifest", fragment, "live/cors.isml/QualityLevels(400000)/Init(video)", "live/cors.isml/master.m3u8",
            "live/cors.isml/hls/video-400000/0.ts", "live/cors.isml/manifest.mpd", "live/cors.isml/time", "time",
            "live/nothing.isml/Manifest", "live/cors.isml/QualityLevels(1)/Fragments(video=0)", "live/bad$name.isml/Manifest",
            "live/cors.isml/hls/video-400000/9999.ts", "live/cors.isml/unknown",
        ];
        foreach (var url in urls)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.Add("Origin", PlayerOrigin);
            using var response = await server.Http.SendAsync(request);
            Assert.True(AllowOrigin(response) == "*", $"GET {url} -> {(int)response.StatusCode} without Access-Control-Allow-Origin");

            using var preflight = new HttpRequestMessage(HttpMethod.Options, url);
            preflight.Headers.Add("Origin", PlayerOrigin);
            preflight.Headers.Add("Access-Control-Request-Method", "GET");
            preflight.Headers.Add("Access-Control-Request-Headers", "range");
            using var answer = await server.Http.SendAsync(preflight);
            Assert.True(answer.StatusCode == HttpStatusCode.NoContent, $"OPTIONS {url} -> {(int)answer.StatusCode}");
            Assert.Equal("*", AllowOrigin(answer));
            Assert.Contains("GET", string.Join(',', answer.Headers.GetValues("Access-Control-Allow-Methods")), StringComparison.Ordinal);
            Assert.Contains("range", string.Join(',', answer.Headers.GetValues("Access-Control-Allow-Headers")), StringComparison.OrdinalIgnoreCase);
        }

        // Without an Origin (a CDN filling its cache) the header is there too, so the cached copy serves any page.
        using var plain = await server.Http.GetAsync("live/cors.isml/Manifest");
        Assert.Equal("*", AllowOrigin(plain));
    }

    [Fact]
    public async Task OperatorRoutes_GetNoCors()
    {
        using var server = new InProcessServer();
        foreach (var url in new[] { "api/points", "metrics", "dashboard" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.Add("Origin", PlayerOrigin);
            using var response = await server.Http.SendAsync(request);
            Assert.Null(AllowOrigin(response));
        }
    }

    [Fact]
    public async Task ConfiguredOrigins_AreTheOnlyOnesAllowed()
    {
        using var server = new InProcessServer($"PublishingPoint:CorsOrigins:0={PlayerOrigin}");
        foreach (var (origin, expected) in new[] { (PlayerOrigin, PlayerOrigin), ("https://elsewhere.example", null) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "live/none.isml/master.m3u8");
            request.Headers.Add("Origin", origin);
            using var response = await server.Http.SendAsync(request);
            Assert.Equal(expected, AllowOrigin(response));
            Assert.Contains("Origin", response.Headers.Vary);
        }
    }

    private static string? AllowOrigin(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Access-Control-Allow-Origin", out var values) ? values.Single() : null;
}
