using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Ingest;

/// <summary>HLS and DASH pushed file by file over HTTP PUT (DASH-IF ingest interface 2), by ffmpeg itself.</summary>
public sealed class SegmentPutIngestTests
{
    private static readonly string[] _source =
    [
        "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "6", "-pix_fmt", "yuv420p",
        "-c:v", "libx264", "-preset", "veryfast", "-b:v", "300k", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", "64k",
    ];

    [Fact]
    public async Task FfmpegHlsFmp4OverPut_IsIngested_AndTheFinalPlaylistMakesItVod()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=60");
        var push = await Tool.RunAsync("ffmpeg",
            [.. _source, "-f", "hls", "-hls_time", "2", "-hls_segment_type", "fmp4", "-method", "PUT", "-hls_flags", "delete_segments",
             server.Url("live/hlsin.isml/index.m3u8").ToString()], TimeSpan.FromSeconds(60));
        Assert.True(push.ExitCode == 0, Tool.Describe(push));

        var manifest = await SmoothManifestView.FetchVodAsync(server.Http, "live/hlsin.isml/Manifest");
        Assert.False(manifest.IsLive);
        Assert.Equal([300000], manifest.Bitrates("video"));
        Assert.Equal([64000], manifest.Bitrates("audio"));
        Assert.Equal(150, await SmoothDecoding.VideoFramesAsync(server, manifest, "live/hlsin.isml", 300000));
    }

    [Fact]
    public async Task FfmpegDashStreamingOverPut_IsIngestedPerRepresentation()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=60");
        var push = await Tool.RunAsync("ffmpeg",
            [.. _source, "-f", "dash", "-seg_duration", "2", "-streaming", "1", "-method", "PUT",
             server.Url("live/dashin.isml/manifest.mpd").ToString()], TimeSpan.FromSeconds(60));
        Assert.True(push.ExitCode == 0, Tool.Describe(push));

        var folder = Path.Combine(server.DataPath, "live", "dashin.isml");
        Assert.Equal(["stream0.ismv", "stream1.ismv"], Directory.GetFiles(folder, "*.ismv").Select(Path.GetFileName).Order());
        var manifest = await SmoothManifestView.FetchVodAsync(server.Http, "live/dashin.isml/Manifest");
        Assert.Equal([300000], manifest.Bitrates("video"));
        Assert.Equal([64000], manifest.Bitrates("audio"));
        Assert.Equal(3, manifest.ChunkTimes("video").Length);
        Assert.Equal(150, await SmoothDecoding.VideoFramesAsync(server, manifest, "live/dashin.isml", 300000));
    }

    [Fact]
    public async Task UnknownFileTypeOrHostileName_IsRefused_AndDeleteIsAcknowledged()
    {
        await using var server = await RunningServer.StartAsync();
        using var exe = new ByteArrayContent([1, 2, 3]);
        using var bad = await server.Http.PutAsync("live/x.isml/evil.exe", exe);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, bad.StatusCode);
        using var dots = new ByteArrayContent([1, 2, 3]);
        using var deep = await server.Http.PutAsync("live/x.isml/a/b/c.m4s", dots);
        Assert.Equal(HttpStatusCode.BadRequest, deep.StatusCode);
        using var delete = await server.Http.DeleteAsync("live/x.isml/index0.m4s");
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
    }
}
