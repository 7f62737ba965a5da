using System.Globalization;
using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Ingest;

/// <summary>Plain MPEG-TS pushed by ffmpeg (chunked POST, and HLS TS segments over PUT), demuxed by our own code.</summary>
public sealed class MpegTsIngestTests
{
    private static readonly string[] _source =
    [
        "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "6", "-pix_fmt", "yuv420p",
        "-c:v", "libx264", "-preset", "veryfast", "-b:v", "300k", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", "64k",
    ];

    [Fact]
    public async Task FfmpegMpegTsPost_IsCutOnKeyframes_AndServedAsSmoothAndHls()
    {
        await using var server = await RunningServer.StartAsync();
        var push = await Tool.RunAsync("ffmpeg", ["-re", .. _source, "-f", "mpegts", server.Url("live/ts.isml/Streams(ts1)").ToString()], TimeSpan.FromSeconds(60));
        Assert.True(push.ExitCode == 0, Tool.Describe(push));

        var manifest = await SmoothManifestView.FetchVodAsync(server.Http, "live/ts.isml/Manifest");
        Assert.False(manifest.IsLive);
        var video = Assert.Single(manifest.Bitrates("video"));
        Assert.InRange(video, 50_000, 900_000); // measured on the first fragment: TS carries no bitrate
        Assert.Single(manifest.Bitrates("audio"));
        Assert.Equal(3, manifest.ChunkTimes("video").Length);
        Assert.Equal(150, await SmoothDecoding.VideoFramesAsync(server, manifest, "live/ts.isml", video));

        var pulled = Path.Combine(TempDirectory.Create("pp-tsin"), "pulled.ts");
        var copy = await Tool.RunAsync("ffmpeg", ["-v", "error", "-i", server.Url("live/ts.isml/master.m3u8").ToString(), "-c", "copy", pulled]);
        Assert.True(copy.ExitCode == 0 && copy.StdErr.Length == 0, Tool.Describe(copy));
        var duration = await Tool.ProbeAsync(pulled, "-show_entries", "format=duration", "-of", "csv=p=0");
        Assert.InRange(double.Parse(duration, CultureInfo.InvariantCulture), 5, 7);
    }

    [Fact]
    public async Task TsStartingMidGopWithGarbageAndAnUnknownPid_KeepsGoing()
    {
        await using var server = await RunningServer.StartAsync();
        var file = Path.Combine(TempDirectory.Create("pp-tsbad"), "in.ts");
        await Tool.RunCheckedAsync("ffmpeg", [.. _source.Select(a => a == "6" ? "10" : a), "-f", "mpegts", file]);
        var ts = await File.ReadAllBytesAsync(file);
        var garbage = new byte[1000];
        new Random(7).NextBytes(garbage);
        var unknownPid = new byte[188];
        unknownPid[0] = 0x47;
        unknownPid[1] = 0x1F;
        unknownPid[2] = 0xEE;
        unknownPid[3] = 0x10;
        var packets = ts.Length / 188;
        var start = (188 * (packets / 10)) + 77; // mid-packet, mid-GOP (about 1 s in)
        var middle = 188 * (packets / 3);
        byte[] body = [.. ts[start..middle], .. garbage, .. unknownPid, .. unknownPid, .. ts[middle..]];
        var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/tsbad.isml/Streams(ts1)", body);
        Assert.True(status == HttpStatusCode.OK, text);

        var manifest = await SmoothManifestView.FetchAsync(server.Http, "live/tsbad.isml/Manifest");
        var video = Assert.Single(manifest.Bitrates("video"));
        // Keyframes every 2 s: the fragments from the first keyframe after the garbage onwards must all be there.
        Assert.True(manifest.ChunkTimes("video").Length >= 3, $"{manifest.ChunkTimes("video").Length} video fragments");
        Assert.InRange(await SmoothDecoding.VideoFramesAsync(server, manifest, "live/tsbad.isml", video), 50, 250);
    }

    /// <summary>
    /// Fragments were held until every track had one to measure its bitrate on, with no limit but MaxBoxBytes: an audio
    /// stream that stopped before its first fragment was cut held the picture for minutes (an hour at a low rate), and the forced
    /// release then failed the push with 400 and dropped it all (a review's finding). After 10 s held, the header is
    /// written without the silent track's measure, and the picture is served.
    /// </summary>
    [Fact]
    public async Task AnAudioStreamThatStopsAtOnce_DoesNotHoldThePicture()
    {
        var file = Path.Combine(TempDirectory.Create("pp-ts-stall"), "stall.ts");
        await Tool.RunCheckedAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25",
            "-f", "lavfi", "-t", "1.5", "-i", "sine=frequency=440:sample_rate=48000", "-t", "14", "-pix_fmt", "yuv420p",
            "-c:v", "libx264", "-preset", "veryfast", "-b:v", "300k", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
            "-c:a", "aac", "-b:a", "64k", "-f", "mpegts", file]);
        await using var server = await RunningServer.StartAsync();
        await using var push = await HeldPush.StartAsync(server.BaseUrl, "/live/tsstall.isml/Streams(ts1)");
        await push.SendAsync(await File.ReadAllBytesAsync(file)); // and the body stays open: the encoder is live

        await Eventually.WaitUntilAsync(async () =>
        {
            using var master = await server.Http.GetAsync("live/tsstall.isml/master.m3u8");
            return master.StatusCode == HttpStatusCode.OK;
        }, "the picture was never served while the audio was silent", TimeSpan.FromSeconds(20));
        var playlist = await server.Http.GetStringAsync("live/tsstall.isml/master.m3u8");
        Assert.Contains("avc1", playlist, StringComparison.Ordinal);
        // The master answers from the first video fragment on; the rest of the picture follows while the audio stays
        // silent (asked until then: right at the master's first answer, a loaded machine had indexed fewer).
        await Eventually.WaitUntilAsync(async () =>
        {
            using var point = System.Text.Json.JsonDocument.Parse(await server.Http.GetStringAsync("api/points/live/tsstall.isml"));
            var tracks = point.RootElement.GetProperty("tracks").EnumerateArray().ToList();
            Assert.Contains(tracks, t => t.GetProperty("type").GetString() == "audio"); // announced, named by a typical bitrate
            return tracks.Single(t => t.GetProperty("type").GetString() == "video").GetProperty("fragments").GetInt32() >= 4;
        }, "the picture after the audio stopped was never indexed", TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task FfmpegHlsTsOverPut_OneArchiveForTheStream_AndVodAtTheEnd()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=60");
        var push = await Tool.RunAsync("ffmpeg", ["-re", .. _source, "-f", "hls", "-hls_time", "2", "-method", "PUT",
            server.Url("live/hlsts.isml/index.m3u8").ToString()], TimeSpan.FromSeconds(60));
        Assert.True(push.ExitCode == 0, Tool.Describe(push));

        var manifest = await SmoothManifestView.FetchVodAsync(server.Http, "live/hlsts.isml/Manifest");
        Assert.False(manifest.IsLive);
        Assert.Single(Directory.GetFiles(Path.Combine(server.DataPath, "live", "hlsts.isml"), "*.ismv"));
        Assert.Equal(150, await SmoothDecoding.VideoFramesAsync(server, manifest, "live/hlsts.isml", Assert.Single(manifest.Bitrates("video"))));
    }

    [Fact]
    public async Task APictureLargerThanTheConnectionMayHold_IsRefused_WhileAnotherStreamGoesOn()
    {
        // The demuxer's PES buffer grows with the largest picture (up to 16 MB) and the fragmenter's with the largest
        // fragment, and both stay: they count as media the connection holds. 4 MB here, and 3.3 MB pictures: the PES buffer and the fragment buffer each grow to 4 MB.
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:MaxBoxBytes=2097152", "--PublishingPoint:MaxIngestBytesPerConnection=4194304");
        var file = Path.Combine(TempDirectory.Create("pp-ts-noise"), "noise.ts");
        await Tool.RunCheckedAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "nullsrc=s=1920x1080:r=1,geq=random(1)*255:128:128",
            "-frames:v", "2", "-c:v", "libx264", "-qp", "0", "-preset", "ultrafast", "-f", "mpegts", file]);

        // The refusal comes while the body is still being sent: the client sees the 413, or the connection cut under it.
        // A clean stream first, so fragments are indexed as they come (none held back to measure bitrates), then the pictures.
        var clean = Path.Combine(Path.GetDirectoryName(file)!, "clean.ts");
        await Tool.RunCheckedAsync("ffmpeg", [.. _source, "-f", "mpegts", clean]);
        byte[] bytes = [.. await File.ReadAllBytesAsync(clean), .. await File.ReadAllBytesAsync(file)];
        string outcome;
        try
        {
            var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/noise.isml/Streams(ts1)", bytes);
            outcome = $"{(int)status}: {text}";
        }
        catch (HttpRequestException e) when (e.InnerException is IOException)
        {
            outcome = "cut";
        }

        Assert.True(outcome is "cut" || outcome.StartsWith("413", StringComparison.Ordinal), outcome);
        var metrics = await server.Http.GetStringAsync(new Uri("metrics", UriKind.Relative));
        Assert.Matches("publishingpoint_delivery_responses(_total)?{[^}]*format=\"ingest\"[^}]*status=\"413\"", metrics);

        var push = await Tool.RunAsync("ffmpeg", [.. _source, "-f", "mpegts", server.Url("live/clean.isml/Streams(ts1)").ToString()], TimeSpan.FromSeconds(60));
        Assert.True(push.ExitCode == 0, Tool.Describe(push));
        // ffmpeg does not wait for the answer to its POST (it polls for it once, without blocking): the server may still
        // be reading the end of the body when it exits.
        await Eventually.WaitUntilAsync(async () =>
        {
            using var master = await server.Http.GetAsync(new Uri("live/clean.isml/master.m3u8", UriKind.Relative));
            return master.StatusCode == HttpStatusCode.OK;
        }, "the clean stream never got a master playlist");
    }
}
