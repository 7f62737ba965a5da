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
                // After more than the playlist's max-age and one more segment, the edge must not serve the old one.
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

    private static string Status(HttpResponseMessage response) =>
        response.Headers.TryGetValues("X-Cache-Status", out var values) ? values.First() : "(none)";
}
