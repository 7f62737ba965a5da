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

    /// <summary>
    /// ffmpeg's HLS fMP4 output with several variants, a folder each (stream_%v/index.m3u8), names each init
    /// stream_0/init_0.mp4 and its segments stream_0/index0.m4s: the two got different stream ids, and once two streams
    /// had an init every segment was refused with 400 (a review's finding). The folder is the stream.
    /// </summary>
    [Fact]
    public async Task FfmpegHlsFmp4WithAFolderPerVariant_IsIngestedAsOneStreamEach()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=60");
        var push = await Tool.RunAsync("ffmpeg",
        [
            "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "6", "-map", "0:v", "-map", "0:v", "-map", "1:a",
            "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
            "-b:v:0", "300k", "-b:v:1", "150k", "-c:a", "aac", "-b:a", "64k",
            "-f", "hls", "-hls_time", "2", "-hls_segment_type", "fmp4", "-method", "PUT", "-var_stream_map", "v:0,a:0 v:1",
            "-master_pl_name", "master.m3u8", server.BaseUrl + "live/ladder.isml/stream_%v/index.m3u8", // not through Uri, which escapes the %
        ], TimeSpan.FromSeconds(60));
        Assert.True(push.ExitCode == 0, Tool.Describe(push));

        var manifest = await SmoothManifestView.FetchVodAsync(server.Http, "live/ladder.isml/Manifest");
        Assert.Equal([150000, 300000], manifest.Bitrates("video").Order());
        Assert.Equal([64000], manifest.Bitrates("audio"));
        Assert.Equal(3, manifest.ChunkTimes("video").Length);
    }

    /// <summary>
    /// Two encoders push one point file by file (one per rendition, each in its folder). The first one's final playlist
    /// ended the point 2 s later while the second pushed on (a review's finding): the end is each stream's, and the
    /// point ends with the last.
    /// </summary>
    [Fact]
    public async Task OneOfTwoSegmentPushersEnds_ThePointGoesOnTillTheOtherEnds()
    {
        var a = TempDirectory.Create("pp-hls-a");
        var b = TempDirectory.Create("pp-hls-b");
        await Tool.RunCheckedAsync("ffmpeg", [.. _source.Where(x => x != "-re"), "-f", "hls", "-hls_time", "2", "-hls_segment_type", "fmp4", Path.Combine(a, "index.m3u8")]);
        await Tool.RunCheckedAsync("ffmpeg", [.. _source.Where(x => x != "-re").Select(x => x == "300k" ? "150k" : x), "-f", "hls", "-hls_time", "2", "-hls_segment_type", "fmp4", Path.Combine(b, "index.m3u8")]);
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await RunningServer.StartWithClockAsync(clock, "--PublishingPoint:FinalizeGraceSeconds=10");
        const string Point = "live/pair.isml";
        async Task PutAsync(string folder, string name, string file)
        {
            using var put = await server.Http.PutAsync($"{Point}/{name}/{file}", new ByteArrayContent(await File.ReadAllBytesAsync(Path.Combine(folder, file))));
            Assert.True(put.IsSuccessStatusCode, $"{name}/{file}: {(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
        }

        foreach (var file in new[] { "init.mp4", "index0.m4s", "index1.m4s" })
        {
            await PutAsync(a, "a", file);
            await PutAsync(b, "b", file);
        }

        await PutAsync(a, "a", "index2.m4s");
        await PutAsync(a, "a", "index.m3u8"); // a's final playlist: a ends, b goes on
        Assert.Contains("#EXT-X-ENDLIST", await File.ReadAllTextAsync(Path.Combine(a, "index.m3u8")), StringComparison.Ordinal);
        clock.Advance(TimeSpan.FromSeconds(3));
        await PutAsync(b, "b", "index2.m4s");
        clock.Advance(TimeSpan.FromSeconds(3));
        var deadline = DateTime.UtcNow.AddSeconds(1.5);
        while (DateTime.UtcNow < deadline)
        {
            Assert.Equal("live", await Security.IngestAuthenticationTests.StateAsync(server, Point));
        }

        await PutAsync(b, "b", "index.m3u8");
        clock.Advance(TimeSpan.FromSeconds(3));
        await Security.IngestAuthenticationTests.WaitForStateAsync(server, Point, "vod");
        var manifest = await SmoothManifestView.FetchVodAsync(server.Http, $"{Point}/Manifest");
        Assert.Equal([150000, 300000], manifest.Bitrates("video").Order());
    }

    [Fact]
    public async Task HlsSegmentsOverPut_ContinueAfterTheServerRestarts_WithoutTheInitSegmentAgain()
    {
        // What ffmpeg -f hls -method PUT sends, written to a folder: the init segment once, then a segment every 2 s.
        var folder = TempDirectory.Create("pp-hls-put");
        await Tool.RunCheckedAsync("ffmpeg", [.. _source.Where(a => a != "-re"), "-f", "hls", "-hls_time", "2", "-hls_segment_type", "fmp4", Path.Combine(folder, "index.m3u8")]);
        var settings = new[] { "--PublishingPoint:FinalizeGraceSeconds=3600" };
        var server = await RunningServer.StartAsync(null, settings);
        var data = server.DataPath;
        try
        {
            foreach (var file in new[] { "init.mp4", "index0.m4s", "index1.m4s" })
            {
                using var put = await server.Http.PutAsync($"live/resume.isml/{file}", new ByteArrayContent(await File.ReadAllBytesAsync(Path.Combine(folder, file))));
                Assert.True(put.IsSuccessStatusCode, $"{file}: {(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
            }
        }
        finally
        {
            await server.DisposeAsync();
        }

        // The encoder goes on where it was: the next segment, with no init segment before it.
        await using var restarted = await RunningServer.StartAsync(data, settings);
        using (var next = await restarted.Http.PutAsync("live/resume.isml/index2.m4s", new ByteArrayContent(await File.ReadAllBytesAsync(Path.Combine(folder, "index2.m4s")))))
        {
            Assert.True(next.IsSuccessStatusCode, $"{(int)next.StatusCode} {await next.Content.ReadAsStringAsync()}");
        }

        var manifest = await SmoothManifestView.FetchAsync(restarted.Http, "live/resume.isml/Manifest");
        Assert.Equal(3, manifest.ChunkTimes("video").Length);
        Assert.Single(Directory.GetFiles(Path.Combine(data, "live", "resume.isml"), "*.ismv"));
    }

    /// <summary>
    /// Each PUT is a request of its own, and the end of each started a timer of FinalizeGraceSeconds that nothing stopped
    /// when the next PUT came: 10 s after the first segment the point went to VOD between two PUTs, back to live at the
    /// next, and so on for the whole push (players got EXT-X-ENDLIST; a point that restarts on reconnect lost its live
    /// event at the next segment). A review's finding. The grace counts from the last request.
    /// </summary>
    [Fact]
    public async Task SegmentsPutEveryFewSeconds_KeepThePointLive_TillTheGraceAfterTheLast()
    {
        var folder = TempDirectory.Create("pp-hls-put");
        await Tool.RunCheckedAsync("ffmpeg", [.. _source.Where(a => a != "-re"), "-f", "hls", "-hls_time", "2", "-hls_segment_type", "fmp4", Path.Combine(folder, "index.m3u8")]);
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await RunningServer.StartWithClockAsync(clock, "--PublishingPoint:FinalizeGraceSeconds=10"); // the shipped grace
        const string Point = "live/putgrace.isml";
        foreach (var file in new[] { "init.mp4", "index0.m4s" })
        {
            using var put = await server.Http.PutAsync($"{Point}/{file}", new ByteArrayContent(await File.ReadAllBytesAsync(Path.Combine(folder, file))));
            Assert.True(put.IsSuccessStatusCode, $"{file}: {(int)put.StatusCode}");
        }

        clock.Advance(TimeSpan.FromSeconds(8));
        using (var put = await server.Http.PutAsync($"{Point}/index1.m4s", new ByteArrayContent(await File.ReadAllBytesAsync(Path.Combine(folder, "index1.m4s")))))
        {
            Assert.True(put.IsSuccessStatusCode, $"index1.m4s: {(int)put.StatusCode}");
        }

        clock.Advance(TimeSpan.FromSeconds(2.5)); // 10.5 s after the first segment's PUT, 2.5 s after the last
        var deadline = DateTime.UtcNow.AddSeconds(1.5);
        while (DateTime.UtcNow < deadline)
        {
            Assert.Equal("live", await Security.IngestAuthenticationTests.StateAsync(server, Point));
        }

        clock.Advance(TimeSpan.FromSeconds(8)); // 10.5 s after the last
        await Security.IngestAuthenticationTests.WaitForStateAsync(server, Point, "vod");
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

    /// <summary>
    /// A 24/7 HLS push of TS segments over PUT reaches the 33-bit PTS wrap after 26.5 hours: every file is its own
    /// request, and each used to start its own timeline at the file's raw PTS, so the segments after the wrap had times
    /// 2^33 earlier than the ones before, were all dropped as duplicates (each PUT still 200) and the channel froze.
    /// ffmpeg's -output_ts_offset puts the wrap 6 s into a 12 s push.
    /// </summary>
    [Fact]
    public async Task TsSegmentsOverPut_ContinueAcrossThePtsWrap()
    {
        var folder = TempDirectory.Create("pp-ts-wrap");
        await Tool.RunCheckedAsync("ffmpeg", [.. _source.Where(a => a != "-re").Select(a => a == "6" ? "12" : a), "-output_ts_offset", "95436",
            "-f", "hls", "-hls_time", "2", "-hls_list_size", "0", "-hls_segment_type", "mpegts", Path.Combine(folder, "index.m3u8")]);
        var files = Directory.GetFiles(folder, "*.ts").OrderBy(f => int.Parse(Path.GetFileNameWithoutExtension(f)["index".Length..], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(6, files.Count);
        var wrapped = await Tool.ProbeAsync(files[^1], "-show_entries", "packet=pts", "-select_streams", "v", "-of", "csv=p=0", "-read_intervals", "%+#1");
        var firstPts = wrapped.Trim().Split(',')[0];
        Assert.True(long.Parse(firstPts, System.Globalization.CultureInfo.InvariantCulture) < 90_000 * 10, $"the last file's first PTS is {firstPts}: no wrap");

        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=3600");
        foreach (var file in files)
        {
            using var put = await server.Http.PutAsync($"live/wrap.isml/{Path.GetFileName(file)}", new ByteArrayContent(await File.ReadAllBytesAsync(file)));
            Assert.True(put.IsSuccessStatusCode, $"{Path.GetFileName(file)}: {(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
        }

        var manifest = await SmoothManifestView.FetchAsync(server.Http, "live/wrap.isml/Manifest");
        var chunks = manifest.ChunkTimes("video");
        Assert.True(chunks.Length == 6, $"{chunks.Length} video chunks: {string.Join(", ", chunks)}");
        Assert.Equal(300, await SmoothDecoding.VideoFramesAsync(server, manifest, "live/wrap.isml", manifest.Bitrates("video")[0]));
    }
}
