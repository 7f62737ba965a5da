using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using PublishingPoint.Server.Delivery;
using PublishingPoint.Server.Tests.Infrastructure;
using PublishingPoint.Tests.Shared;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>Two real-time ffmpeg encoders (one with audio) into one point; HLS checked while they push.</summary>
public sealed class HlsLiveTests
{
    private const string Point = "live/hls.isml";

    [Fact]
    public async Task LivePlaylistsAndSegmentsServeWhileEncodersPush()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:DvrWindowSeconds=10");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(45));
        var withAudio = Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(hi)"), new EncoderSettings { VideoKbps = 600, Width = 640, Height = 360, Seconds = 14 }, stop.Token);
        var videoOnly = Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(lo)"), new EncoderSettings { VideoKbps = 300, AudioKbps = 0, Seconds = 14 }, stop.Token);

        // Master lists both renditions once each has three segments.
        var master = await WaitForAsync(server, async () =>
        {
            var text = await GetTextOrNullAsync(server, $"{Point}/master.m3u8");
            if (text is null || HlsText.AttributeLines(text, "#EXT-X-STREAM-INF").Count < 3)
            {
                return null;
            }

            foreach (var (_, uri) in HlsText.AttributeLines(text, "#EXT-X-STREAM-INF"))
            {
                var media = await GetTextOrNullAsync(server, $"{Point}/{uri}");
                if (media is null || HlsText.Segments(media).Count < 3)
                {
                    return null;
                }
            }

            return text;
        });

        Assert.Contains("#EXT-X-INDEPENDENT-SEGMENTS", master, StringComparison.Ordinal);
        var all = HlsText.AttributeLines(master, "#EXT-X-STREAM-INF");
        Assert.False(all[^1].Attributes.ContainsKey("RESOLUTION")); // the packed-audio variant comes last
        var variants = all.Where(v => v.Attributes.ContainsKey("RESOLUTION")).ToList();
        Assert.Equal(2, variants.Count);
        Assert.Equal(["320x180", "640x360"], variants.Select(v => v.Attributes["RESOLUTION"]).Order());
        foreach (var (attributes, _) in variants)
        {
            Assert.Matches(@"^avc1\.[0-9a-f]{6},mp4a\.40\.2$", attributes["CODECS"]);
            Assert.Equal("25.000", attributes["FRAME-RATE"]);
            Assert.True(long.Parse(attributes["BANDWIDTH"], System.Globalization.CultureInfo.InvariantCulture) >= long.Parse(attributes["AVERAGE-BANDWIDTH"], System.Globalization.CultureInfo.InvariantCulture));
        }

        // The players: ffprobe on the master, a stream copy of one media playlist, while still live.
        var masterUrl = server.Url($"{Point}/master.m3u8").ToString();
        var probe = Tool.ProbeAsync(masterUrl, "-show_entries", "stream=codec_name,width", "-of", "compact");
        var copy = Tool.RunAsync("ffmpeg", ["-v", "error", "-i", server.Url($"{Point}/{variants[0].Uri}").ToString(), "-c", "copy", "-t", "3", "-f", "null", "-"], TimeSpan.FromSeconds(30));

        var cache = server.Services.GetRequiredService<SegmentCache>();
        var checkedSegments = 0;
        foreach (var (_, uri) in variants)
        {
            var response = await server.Http.GetAsync($"{Point}/{uri}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/vnd.apple.mpegurl", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
            var media = await response.Content.ReadAsStringAsync();
            var target = HlsText.LongTag(media, "#EXT-X-TARGETDURATION");
            Assert.True(response.Headers.CacheControl?.MaxAge <= TimeSpan.FromSeconds(target / 2.0), $"live playlist max-age {response.Headers.CacheControl}");
            Assert.DoesNotContain("#EXT-X-ENDLIST", media, StringComparison.Ordinal);
            Assert.DoesNotContain("#EXT-X-PLAYLIST-TYPE", media, StringComparison.Ordinal);
            Assert.NotNull(HlsText.Tag(media, "#EXT-X-PROGRAM-DATE-TIME"));
            var sequence = HlsText.LongTag(media, "#EXT-X-MEDIA-SEQUENCE");
            var segments = HlsText.Segments(media);
            Assert.All(segments, s => Assert.True(Math.Round(s.Duration) <= target, $"EXTINF {s.Duration} > target {target}"));
            Assert.All(segments, s => Assert.InRange(s.Duration, 1.5, 2.5));

            using var revalidate = new HttpRequestMessage(HttpMethod.Get, $"{Point}/{uri}");
            revalidate.Headers.IfNoneMatch.Add(response.Headers.ETag!);
            var notModified = await server.Http.SendAsync(revalidate);
            Assert.True(notModified.StatusCode is HttpStatusCode.NotModified or HttpStatusCode.OK);
            if (notModified.StatusCode == HttpStatusCode.OK)
            {
                Assert.NotEqual(response.Headers.ETag, notModified.Headers.ETag);
            }

            // Segment names are their media sequence numbers: the window never renumbers.
            var folder = uri![..uri!.LastIndexOf('.')];
            var reader = new TsPacketReader();
            for (var i = 0; i < segments.Count; i++)
            {
                Assert.Equal($"{folder[4..]}/{sequence + i}.ts", segments[i].Uri);
                var segment = await server.Http.GetAsync($"{Point}/hls/{segments[i].Uri}");
                Assert.Equal(HttpStatusCode.OK, segment.StatusCode);
                Assert.Equal("video/mp2t", segment.Content.Headers.ContentType?.MediaType);
                Assert.Contains("immutable", segment.Headers.CacheControl?.ToString(), StringComparison.Ordinal);
                TsSegmentCheck.Check(reader, await segment.Content.ReadAsByteArrayAsync(), withAudio: true, segments[i].Uri);
                checkedSegments++;
            }

            // A new fMP4 segment asked for by many players at once is packaged once. The counter is the server's: another
            // packaging run can land in the same moment, so of three new segments at least one must show exactly one run
            // (a cache that did not coalesce would show eight every time).
            var fmp4 = $"{Point}/hls/{folder[4..]}/{sequence + 1}.m4s";
            var runs = new List<long>();
            byte[][] bodies = [];
            foreach (var n in new[] { sequence + 1, sequence, sequence + 2 })
            {
                var before = cache.Produced;
                var url = $"{Point}/hls/{folder[4..]}/{n}.m4s";
                bodies = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => server.Http.GetByteArrayAsync(url)));
                Assert.All(bodies, b => Assert.Equal(bodies[0], b));
                runs.Add(cache.Produced - before);
            }

            Assert.Contains(1L, runs);
            Assert.All(runs, r => Assert.InRange(r, 1, 3));
            bodies = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => server.Http.GetByteArrayAsync(fmp4)));

            using var range = new HttpRequestMessage(HttpMethod.Get, fmp4);
            range.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(100, 287);
            var partial = await server.Http.SendAsync(range);
            Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
            Assert.Equal(bodies[0].AsSpan(100, 188).ToArray(), await partial.Content.ReadAsByteArrayAsync());
        }

        Assert.True(checkedSegments >= 6, $"only {checkedSegments} segments checked");
        var probed = await probe;
        Assert.Contains("codec_name=h264|width=320", probed, StringComparison.Ordinal);
        Assert.Contains("codec_name=h264|width=640", probed, StringComparison.Ordinal);
        Assert.Contains("codec_name=aac", probed, StringComparison.Ordinal);
        var copied = await copy;
        Assert.True(copied.ExitCode == 0 && copied.StdErr.Length == 0, Tool.Describe(copied));

        Assert.Equal(0, (await withAudio).ExitCode);
        Assert.Equal(0, (await videoOnly).ExitCode);
    }

    private static async Task<string?> GetTextOrNullAsync(RunningServer server, string relative)
    {
        var response = await server.Http.GetAsync(relative);
        return response.IsSuccessStatusCode ? await response.Content.ReadAsStringAsync() : null;
    }

    private static async Task<string> WaitForAsync(RunningServer server, Func<Task<string?>> probe)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(25))
        {
            if (await probe() is { } result)
            {
                return result;
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"HLS output did not appear on {server.BaseUrl}");
    }
}
