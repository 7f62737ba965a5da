using System.Globalization;
using System.Net;
using System.Text.Json;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>
/// EXT-X-DISCONTINUITY-SEQUENCE (RFC 8216bis 4.4.3.3): the number of discontinuities before the playlist's first
/// segment. It never goes back, also once the archive's oldest files, and the discontinuity with them, are pruned.
/// </summary>
public sealed class DiscontinuitySequenceTests
{
    [Fact]
    public async Task AnEncoderRestartedWithATimeJump_CountsOneDiscontinuity_AfterItsSegmentsArePruned()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:DvrWindowSeconds=10",
            "--PublishingPoint:ArchiveSegmentSeconds=10", "--PublishingPoint:ArchiveLengthSeconds=15", "--PublishingPoint:FinalizeGraceSeconds=3600");
        // Fragments at 1.5 + 2k s (off the 2 s grid the segments are numbered by), then a restart 1.1 s after the last
        // one ended: a discontinuity right after the segment numbered before it (10, then 11), not a gap in numbering.
        var first = await CaptureAsync(20, 1.5);
        var restarted = await CaptureAsync(40, 22.6);
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/jump.isml/Streams(a)", first)).Status);
        var before = await server.Http.GetStringAsync("live/jump.isml/hls/video-300000.m3u8");
        Assert.DoesNotContain("#EXT-X-DISCONTINUITY", before, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/jump.isml/Streams(a)", restarted)).Status);
        var playlist = await server.Http.GetStringAsync("live/jump.isml/hls/video-300000.m3u8");
        Assert.Equal(1, HlsText.LongTag(playlist, "#EXT-X-DISCONTINUITY-SEQUENCE"));
        Assert.True(HlsText.LongTag(playlist, "#EXT-X-MEDIA-SEQUENCE") >= 25, playlist);
        Assert.DoesNotContain("#EXT-X-DISCONTINUITY\n", playlist, StringComparison.Ordinal);
        // The segment after the jump was in the archive's first files after the restart: pruned (15 s kept).
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync("live/jump.isml/hls/video-300000/11.ts")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync(new Uri(server.Url("live/jump.isml/hls/video-300000.m3u8"), HlsText.Segments(playlist)[0].Uri))).StatusCode);
    }

    [Fact]
    public async Task TheOperatorApi_NamesTheDiscontinuity_AndCountsTheIndex_UntilItIsPruned()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:ArchiveSegmentSeconds=10", "--PublishingPoint:FinalizeGraceSeconds=3600");
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/jump.isml/Streams(a)", await CaptureAsync(20, 1.5))).Status);
        Assert.DoesNotContain(await WarningsAsync(server), w => w.Contains("discontinuity", StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/jump.isml/Streams(a)", await CaptureAsync(20, 22.6))).Status);
        var discontinuities = (await WarningsAsync(server)).Where(w => w.Contains("discontinuity", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(2, discontinuities.Count);
        Assert.StartsWith("audio@64000: discontinuity at ", discontinuities[0], StringComparison.Ordinal);
        Assert.StartsWith("video@300000: discontinuity at ", discontinuities[1], StringComparison.Ordinal);
        using var json = JsonDocument.Parse(await server.Http.GetStringAsync("api/points/live/jump.isml"));
        var video = json.RootElement.GetProperty("tracks").EnumerateArray().Single(t => t.GetProperty("type").GetString() == "video");
        Assert.Equal(20, video.GetProperty("fragments").GetInt32());
        Assert.Equal(1.5, video.GetProperty("firstSeconds").GetDouble(), 2);
        Assert.Equal(42.6, video.GetProperty("lastSeconds").GetDouble(), 1);
        Assert.InRange(video.GetProperty("bytesInMemory").GetInt64(), 1, 1_000_000);
    }

    private static async Task<List<string>> WarningsAsync(RunningServer server)
    {
        using var json = JsonDocument.Parse(await server.Http.GetStringAsync("api/points/live/jump.isml"));
        return [.. json.RootElement.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()!)];
    }

    /// <summary>ffmpeg's ismv push of <paramref name="seconds"/>, its timestamps starting at <paramref name="offset"/> s, without its 'mfra' (the point stays live).</summary>
    private static async Task<byte[]> CaptureAsync(int seconds, double offset)
    {
        var capture = await IsmvCapture.CaptureAsync((target, settings) =>
        {
            var args = Encoder.SmoothPushArguments(target, settings).ToList();
            args.InsertRange(args.IndexOf("-movflags"), ["-output_ts_offset", offset.ToString(CultureInfo.InvariantCulture)]);
            return args;
        }, new EncoderSettings { Seconds = seconds, VideoKbps = 300, AudioKbps = 64, RealTime = false });
        return capture[..Boxes.TopLevel(capture).Single(b => b.Type == "mfra").Offset];
    }
}
