using System.Net;
using PublishingPoint.Server.Tests.Hls;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Deploy;

/// <summary>
/// deploy/nginx/publishingpoint.conf, as shipped, in a real nginx (Debian) in front of the origin: segments are
/// a miss then a hit, live playlists are cached no longer than the origin allows, operator routes stay closed.
/// </summary>
public sealed class NginxCacheTests
{
    [Fact]
    public async Task ShippedNginxConfig_CachesSegments_AndKeepsLivePlaylistsFresh()
    {
        await using var origin = await RunningServer.StartAsync();
        var push = Encoder.PushSmoothAsync(origin.Url("live/cdn.isml/Streams(a)"), new EncoderSettings { Seconds = 16 });
        using var nginx = ShippedNginx.Start(origin.BaseUrl.Port);
        try
        {
            using var edge = new HttpClient { BaseAddress = nginx.BaseUrl, Timeout = TimeSpan.FromSeconds(10) };
            await Eventually.WaitUntilAsync(async () => HlsText.Segments(await origin.Http.GetStringAsync("live/cdn.isml/hls/video-400000.m3u8")).Count >= 2,
                "the origin never got the first segments", poll: TimeSpan.FromMilliseconds(250));

            using (var cold = await edge.GetAsync("live/cdn.isml/hls/video-400000/0.ts"))
            using (var warm = await edge.GetAsync("live/cdn.isml/hls/video-400000/0.ts"))
            {
                Assert.Equal("MISS", Status(cold));
                Assert.Equal("HIT", Status(warm));
                var direct = await origin.Http.GetByteArrayAsync("live/cdn.isml/hls/video-400000/0.ts");
                Assert.Equal(direct, await warm.Content.ReadAsByteArrayAsync());
            }

            using (var first = await edge.GetAsync("live/cdn.isml/hls/video-400000.m3u8"))
            using (var again = await edge.GetAsync("live/cdn.isml/hls/video-400000.m3u8"))
            {
                Assert.Equal("HIT", Status(again));
                var before = await first.Content.ReadAsStringAsync();
                // Once the origin has one more segment (the real-time push may lag on a loaded machine) and more than the
                // playlist's max-age has passed, the edge must not serve the old one.
                await Eventually.WaitUntilAsync(async () => await origin.Http.GetStringAsync("live/cdn.isml/hls/video-400000.m3u8") != before,
                    "the origin's playlist did not change", TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(100));
                await Task.Delay(TimeSpan.FromSeconds(3));
                using var later = await edge.GetAsync("live/cdn.isml/hls/video-400000.m3u8");
                Assert.NotEqual("HIT", Status(later));
                Assert.NotEqual(before, await later.Content.ReadAsStringAsync());
            }

            using var api = await edge.GetAsync("api/points");
            Assert.Equal(HttpStatusCode.NotFound, api.StatusCode);
        }
        finally
        {
            nginx.Stop();
            Assert.Equal(0, (await push).ExitCode);
        }
    }

    [Fact]
    public async Task ShippedNginxConfig_PassesLowLatencyReloadsThrough_AndCachesEachPartOnce()
    {
        await using var origin = await RunningServer.StartAsync();
        var push = Encoder.PushLowLatencyCmafAsync(origin.Url("live/llcdn.isml/Streams(a)"), new EncoderSettings { Seconds = 14 });
        using var nginx = ShippedNginx.Start(origin.BaseUrl.Port);
        try
        {
            using var edge = new HttpClient { BaseAddress = nginx.BaseUrl, Timeout = TimeSpan.FromSeconds(20) };
            const string Playlist = "live/llcdn.isml/hls/video-400000-fmp4.m3u8";
            await Eventually.WaitUntilAsync(async () => HlsText.Segments(await origin.Http.GetStringAsync(Playlist)).Count >= 2,
                "the origin never got the first segments", poll: TimeSpan.FromMilliseconds(250));

            using var plain = await edge.GetAsync(Playlist);
            var hint = System.Text.RegularExpressions.Regex.Match(await plain.Content.ReadAsStringAsync(), @"PRELOAD-HINT:TYPE=PART,URI=""video-400000/(\d+)\.(\d+)\.m4s""");
            Assert.True(hint.Success);
            var (msn, part) = (hint.Groups[1].Value, hint.Groups[2].Value);

            // The blocking reload waits at the origin, through the edge, and the same URL is then a hit for everyone.
            var blocking = $"{Playlist}?_HLS_msn={msn}&_HLS_part={part}";
            using (var first = await edge.GetAsync(blocking))
            using (var second = await edge.GetAsync(blocking))
            {
                Assert.Equal(HttpStatusCode.OK, first.StatusCode);
                var listed = await first.Content.ReadAsStringAsync();
                Assert.Contains($"video-400000/{msn}.{part}.m4s\"", listed, StringComparison.Ordinal);
                Assert.Equal("HIT", Status(second));
                Assert.Equal(listed, await second.Content.ReadAsStringAsync());
            }

            var partUrl = $"live/llcdn.isml/hls/video-400000/{msn}.{part}.m4s";
            using (var cold = await edge.GetAsync(partUrl))
            using (var warm = await edge.GetAsync(partUrl))
            {
                Assert.Equal(HttpStatusCode.OK, cold.StatusCode);
                Assert.Equal("HIT", Status(warm));
                Assert.Equal(await origin.Http.GetByteArrayAsync(partUrl), await warm.Content.ReadAsByteArrayAsync());
            }
        }
        finally
        {
            nginx.Stop();
            Assert.Equal(0, (await push).ExitCode);
        }
    }

    private static string Status(HttpResponseMessage response) =>
        response.Headers.TryGetValues("X-Cache-Status", out var values) ? values.First() : "(none)";
}
