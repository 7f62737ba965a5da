using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using PublishingPoint.Server.Tests.Hls;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Publishing;

/// <summary>
/// Publishing to a real S3 endpoint (s3rver) while ffmpeg pushes in real time: the bucket is read over HTTP
/// like a CDN would, and played with ffmpeg from there once the event ends.
/// </summary>
public sealed partial class S3PublishingTests
{
    private const double PushSeconds = 14;
    private const double OutagePushSeconds = 36;

    [Fact]
    public async Task LiveOutputReachesTheBucketSegmentsBeforePlaylists_ThenTheVodPlaysFromIt()
    {
        await using var s3 = await S3rver.StartAsync();
        await using var server = await RunningServer.StartAsync(null, s3.Settings());
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var bucket = new BucketReader(http, key => s3.ObjectUrl(key));
        const string Point = "live/s3.isml";

        var push = Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(a)"), new EncoderSettings { Seconds = PushSeconds, VideoKbps = 400 });

        // While live: every segment every published playlist lists is in the bucket already.
        var liveChecks = 0;
        var segmentsSeenLive = 0;
        while (!push.IsCompleted)
        {
            if (await bucket.CheckAsync(Point) is { } playlists && playlists.All(p => !p.Text.Contains("#EXT-X-ENDLIST", StringComparison.Ordinal)))
            {
                Assert.All(playlists, p => Assert.True(p.Missing.Count == 0, $"{p.Key} names objects the bucket lacks: {string.Join(", ", p.Missing)}\n{p.Text}"));
                liveChecks++;
                segmentsSeenLive = Math.Max(segmentsSeenLive, playlists.Max(p => HlsText.Segments(p.Text).Count));
            }

            await Task.Delay(300);
        }

        Assert.Equal(0, (await push).ExitCode);
        Assert.True(liveChecks >= 5 && segmentsSeenLive >= 3, $"{liveChecks} live checks, at most {segmentsSeenLive} segments seen while live");

        // The end: VOD playlists (ENDLIST) over every segment, in order from 0, all there, and the same as the origin's.
        var media = await VodAsync(server.DataPath, bucket, Point);
        var origin = new BucketReader(server.Http, key => server.Url(key));
        foreach (var (key, text, missing) in media)
        {
            Assert.Empty(missing);
            var numbers = BucketReader.Numbers(text);
            Assert.Equal(Enumerable.Range(0, numbers.Length).Select(n => (long)n), numbers);
            Assert.Equal(await origin.TextOrNullAsync(key), text);
        }

        // Headers per object: immutable segments, short-lived... now VOD playlists.
        var tsPlaylist = media.First(m => !m.Key.EndsWith("-fmp4.m3u8", StringComparison.Ordinal));
        var segmentKey = tsPlaylist.Key[..(tsPlaylist.Key.LastIndexOf('/') + 1)] + HlsText.Segments(tsPlaylist.Text)[0].Uri;
        using (var segment = await http.GetAsync(s3.ObjectUrl(segmentKey)))
        {
            Assert.Equal("video/mp2t", segment.Content.Headers.ContentType?.MediaType);
            Assert.Contains("immutable", segment.Headers.CacheControl?.ToString(), StringComparison.Ordinal);
        }

        using (var playlist = await http.GetAsync(s3.ObjectUrl(tsPlaylist.Key)))
        {
            Assert.Equal("application/vnd.apple.mpegurl", playlist.Content.Headers.ContentType?.MediaType);
            Assert.Equal(TimeSpan.FromSeconds(3600), playlist.Headers.CacheControl?.MaxAge);
        }

        var mpd = await bucket.TextOrNullAsync($"{Point}/manifest.mpd");
        Assert.NotNull(mpd);
        Assert.Contains("type=\"static\"", mpd, StringComparison.Ordinal);

        // A player on the bucket alone: the pushed duration, within one segment.
        var output = Path.Combine(TempDirectory.Create("s3-play"), "copy.ts");
        await Tool.RunCheckedAsync("ffmpeg", ["-v", "error", "-i", s3.ObjectUrl(tsPlaylist.Key).ToString(), "-c", "copy", output], TimeSpan.FromSeconds(60));
        var duration = double.Parse((await Tool.ProbeAsync(output, "-show_entries", "format=duration", "-of", "csv=p=0")).Trim(), CultureInfo.InvariantCulture);
        Assert.InRange(duration, PushSeconds - 2.1, PushSeconds + 2.1);
    }

    [Fact]
    public async Task StoreOutage_OriginKeepsServing_BacklogGrows_ThenTheBucketCatchesUp()
    {
        await using var s3 = await S3rver.StartAsync();
        await using var server = await RunningServer.StartAsync(null, s3.Settings("--PublishingPoint:Publish:MaxRetryDelaySeconds=1"));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var bucket = new BucketReader(http, key => s3.ObjectUrl(key));
        const string Point = "live/outage.isml";

        // Long enough to outlast the outage's detection and the backlog's growth on a loaded machine (a 14 s push once
        // ended first in a full test run), after a first publish that took over 15 s once, early in a full run.
        var push = Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(a)"), new EncoderSettings { Seconds = OutagePushSeconds, VideoKbps = 300 });
        var deadline = DateTime.UtcNow.AddSeconds(25);
        while (await bucket.CheckAsync(Point) is not { } first || first.Min(p => HlsText.Segments(p.Text).Count) < 1)
        {
            Assert.True(DateTime.UtcNow < deadline, "nothing published before the outage");
            await Task.Delay(200);
        }

        // Outage: the store is gone while the encoder keeps pushing.
        await s3.StopAsync();
        await Eventually.WaitUntilAsync(async () => Metric(await server.Http.GetStringAsync("metrics"), "publishingpoint_publishing_store_up") == 0,
            "the publisher never noticed the store was gone", TimeSpan.FromSeconds(15));
        var backlogDuring = Metric(await server.Http.GetStringAsync("metrics"), "publishingpoint_publishing_backlog");
        var metrics = string.Empty;
        await Eventually.WaitUntilAsync(async () =>
        {
            metrics = await server.Http.GetStringAsync("metrics");
            return Metric(metrics, "publishingpoint_publishing_backlog") > backlogDuring && backlogDuring > 0;
        }, $"the backlog did not grow past {backlogDuring} while the store was down", TimeSpan.FromSeconds(15));
        // The backlog grew after the store was seen gone: ingest went on during the outage (whether the encoder is still
        // pushing by now is the machine's speed, not the server's behaviour).
        Assert.True(Metric(metrics, "publishingpoint_publishing_failures") >= 1);
        var local = await server.Http.GetAsync($"{Point}/master.m3u8");
        Assert.Equal(HttpStatusCode.OK, local.StatusCode);
        var status = await server.Http.GetStringAsync("api/publish");
        Assert.Contains("\"storeUp\":false", status, StringComparison.Ordinal);
        Assert.Matches("\"lastError\":\"[^\"]+\"", status);

        // Back on the same port and data folder: the bucket catches up, in order, complete.
        await s3.StartAsync();
        Assert.Equal(0, (await push).ExitCode);
        var media = await VodAsync(server.DataPath, bucket, Point);
        var origin = new BucketReader(server.Http, key => server.Url(key));
        foreach (var (key, text, missing) in media)
        {
            Assert.Empty(missing);
            Assert.Equal(Enumerable.Range(0, BucketReader.Numbers(text).Length).Select(n => (long)n), BucketReader.Numbers(text));
            Assert.Equal(await origin.TextOrNullAsync(key), text);
        }

        metrics = await server.Http.GetStringAsync("metrics");
        Assert.Equal(1, Metric(metrics, "publishingpoint_publishing_store_up"));
        Assert.Equal(0, Metric(metrics, "publishingpoint_publishing_backlog"));
    }

    /// <summary>
    /// Waits for the whole VOD pass in the bucket (the marker the publisher writes after it: its media playlists go
    /// before the masters and the MPD); returns the playlists with their missing objects.
    /// </summary>
    internal static async Task<List<(string Key, string Text, List<string> Missing)>> VodAsync(string data, BucketReader bucket, string point)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var marker = Path.Combine(data, point, "published-to.txt");
        while (true)
        {
            if (File.Exists(marker) && await bucket.CheckAsync(point) is { Count: > 0 } playlists && playlists.All(p => p.Text.Contains("#EXT-X-ENDLIST", StringComparison.Ordinal)))
            {
                return playlists;
            }

            Assert.True(DateTime.UtcNow < deadline, "the VOD playlists never reached the store");
            await Task.Delay(250);
        }
    }

    internal static long Metric(string metrics, string name)
    {
        var match = Regex.Match(metrics, $@"^{name} (\d+)$", RegexOptions.Multiline);
        return match.Success ? long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : -1;
    }
}
