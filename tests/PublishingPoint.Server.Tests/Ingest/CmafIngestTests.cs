using System.Globalization;
using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Ingest;

/// <summary>CMAF / fragmented MP4 ingest (DASH-IF interface 1): video and audio in one 'moof', times in 'tfdt'.</summary>
public sealed class CmafIngestTests
{
    [Fact]
    public async Task FfmpegCmafPush_IsSplitPerTrack_AndServedAsSmooth()
    {
        await using var server = await RunningServer.StartAsync();
        var push = await Encoder.PushCmafAsync(server.Url("live/cmaf.isml/Streams(v1)"),
            new EncoderSettings { VideoKbps = 300, AudioKbps = 64, Seconds = 6 });
        Assert.True(push.ExitCode == 0, Tool.Describe(push));

        var manifest = await SmoothManifestView.FetchVodAsync(server.Http, "live/cmaf.isml/Manifest");
        Assert.False(manifest.IsLive);
        Assert.Equal([300000], manifest.Bitrates("video"));
        Assert.Equal([64000], manifest.Bitrates("audio"));
        var videoScale = long.Parse((string)manifest.Stream("video").Attribute("TimeScale")!, CultureInfo.InvariantCulture);
        var seconds = (double)manifest.ChunkDurations("video").Sum() / videoScale;
        Assert.InRange(seconds, 5, 7);

        Assert.Equal(150, await SmoothDecoding.VideoFramesAsync(server, manifest, "live/cmaf.isml", 300000));
    }

    [Fact]
    public async Task OnePostPerSegment_StaysLiveBetweenPosts_AndIndexesEverySegment()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=30");
        var capture = await IsmvCapture.CaptureAsync(Encoder.CmafPushArguments, new EncoderSettings { Seconds = 6, RealTime = false });
        var boxes = Boxes.TopLevel(capture);
        var firstMoof = boxes.First(b => b.Type == "moof").Offset;
        var (header, _) = await Posting.PostChunkedAsync(server.Http, "live/seg.isml/Streams(v1)", capture[..firstMoof]);
        Assert.Equal(HttpStatusCode.OK, header);
        var segments = 0;
        foreach (var moof in boxes.Where(b => b.Type == "moof"))
        {
            var mdat = boxes.First(b => b.Offset == moof.Offset + moof.Size);
            var (status, body) = await Posting.PostChunkedAsync(server.Http, "live/seg.isml/Streams(v1)", capture[moof.Offset..(mdat.Offset + mdat.Size)]);
            Assert.True(status == HttpStatusCode.OK, body);
            segments++;
        }

        var manifest = await SmoothManifestView.FetchAsync(server.Http, "live/seg.isml/Manifest");
        Assert.True(manifest.IsLive, "the point must stay live while the encoder posts segment by segment");
        Assert.Equal(segments, manifest.ChunkTimes("video").Length);
        Assert.Equal(segments, manifest.ChunkTimes("audio").Length);
    }

    [Fact]
    public async Task LowLatencyChunks_AMoofPerFrame_AreGatheredIntoOneFragmentPerGop()
    {
        await using var server = await RunningServer.StartAsync();
        var capture = await IsmvCapture.CaptureAsync(
            (target, s) => Encoder.CmafPushArguments(target, s).Select(a => a.StartsWith("cmaf+", StringComparison.Ordinal) ? "cmaf+frag_every_frame+empty_moov+default_base_moof" : a),
            new EncoderSettings { Seconds = 6, RealTime = false });
        Assert.True(Boxes.TopLevel(capture).Count(b => b.Type == "moof") > 100, "ffmpeg should have sent a fragment per frame");
        var (status, body) = await Posting.PostChunkedAsync(server.Http, "live/ll.isml/Streams(v1)", capture);
        Assert.True(status == HttpStatusCode.OK, body);

        var manifest = await SmoothManifestView.FetchAsync(server.Http, "live/ll.isml/Manifest");
        Assert.Equal(3, manifest.ChunkTimes("video").Length);
        // About one per second; ffmpeg flushes its last audio frames at the end with uneven times.
        Assert.InRange(manifest.ChunkTimes("audio").Length, 5, 10);
        Assert.Equal(150, await SmoothDecoding.VideoFramesAsync(server, manifest, "live/ll.isml", 400000));
    }

    [Fact]
    public async Task AFloodOfTinyChunks_IsIndexedEvery2048Chunks_NotHeldAsOneRun()
    {
        // One chunk per frame at 1000 fps and no keyframe after the first: 4,000 chunks in 4 s, each a part every
        // low-latency playlist would list. A run is indexed once it holds 2,048 of them (before, the whole 4 s waited
        // for the end: one 4 s segment).
        await using var server = await RunningServer.StartAsync();
        var push = await Tool.RunAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=32x32:rate=1000", "-t", "4",
            "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-g", "100000", "-keyint_min", "100000", "-sc_threshold", "0",
            "-movflags", "cmaf+empty_moov+default_base_moof+frag_every_frame", "-f", "mp4", server.Url("live/tiny.isml/Streams(v-100k)").ToString()], TimeSpan.FromSeconds(60));
        Assert.True(push.ExitCode == 0, Tool.Describe(push));

        // ffmpeg exits once its POST is answered; the point is finalised as its session ends, which can be just after.
        var playlist = "";
        await Eventually.WaitUntilAsync(async () => (playlist = await server.Http.GetStringAsync("live/tiny.isml/hls/video-100000-fmp4.m3u8")).Contains("#EXT-X-ENDLIST", StringComparison.Ordinal),
            "the point was not finalised after its push ended", TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100));
        Assert.Contains("#EXT-X-ENDLIST", playlist, StringComparison.Ordinal);
        Assert.Equal([2.048, 1.952], Hls.HlsText.Segments(playlist).Select(s => Math.Round(s.Duration, 3)));
    }
}
