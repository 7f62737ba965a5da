using System.Globalization;
using System.Net.Http.Json;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Ingest;

/// <summary>
/// Whatever fed a point, it is served in every format: for each ingest protocol ffmpeg pushes 6 s, then the point
/// is read back as Smooth (manifest parsed), HLS (ffmpeg -c copy from the master) and DASH (ffmpeg -c copy from
/// the MPD), each with the pushed duration (within one 2 s segment) and its video and audio.
/// </summary>
public sealed class EveryIngestEveryOutputTests
{
    private const double Seconds = 6;

    private static readonly string[] _source =
    [
        "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "6", "-pix_fmt", "yuv420p",
        "-c:v", "libx264", "-preset", "veryfast", "-b:v", "300k", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", "64k",
    ];

    public static TheoryData<string> Protocols => ["smooth", "cmaf", "mpegts", "hls-fmp4-put", "hls-ts-put", "dash-put"];

    [Theory]
    [MemberData(nameof(Protocols))]
    public async Task IngestProtocol_IsServedAsSmoothHlsAndDash(string protocol)
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=60");
        var point = $"live/{protocol}.isml";
        string[] output = protocol switch
        {
            "smooth" => ["-movflags", "isml+frag_keyframe", "-f", "ismv", server.Url($"{point}/Streams(a)").ToString()],
            "cmaf" => ["-movflags", "cmaf+frag_keyframe+empty_moov+default_base_moof", "-f", "mp4", server.Url($"{point}/Streams(a)").ToString()],
            "mpegts" => ["-f", "mpegts", server.Url($"{point}/Streams(a)").ToString()],
            "hls-fmp4-put" => ["-f", "hls", "-hls_time", "2", "-hls_segment_type", "fmp4", "-method", "PUT", server.Url($"{point}/index.m3u8").ToString()],
            "hls-ts-put" => ["-f", "hls", "-hls_time", "2", "-method", "PUT", server.Url($"{point}/index.m3u8").ToString()],
            _ => ["-f", "dash", "-seg_duration", "2", "-streaming", "1", "-method", "PUT", server.Url($"{point}/manifest.mpd").ToString()],
        };
        var push = await Tool.RunAsync("ffmpeg", ["-re", .. _source, .. output], TimeSpan.FromSeconds(60));
        Assert.True(push.ExitCode == 0, Tool.Describe(push));

        // A POST without an end marker (TS) finalises after the grace period: close it like an operator would.
        if (protocol == "mpegts")
        {
            using var close = await server.Http.PostAsync($"api/points/{point}/close", JsonContent.Create(new { }));
            Assert.True(close.IsSuccessStatusCode);
        }

        var smooth = await SmoothManifestView.FetchVodAsync(server.Http, $"{point}/Manifest");
        Assert.False(smooth.IsLive);
        Assert.Single(smooth.Bitrates("video"));
        Assert.Single(smooth.Bitrates("audio"));
        Assert.InRange(smooth.Duration / 10_000_000.0, Seconds - 2, Seconds + 2);

        var folder = TempDirectory.Create("pp-every");
        foreach (var (name, url, file) in new[]
        {
            ("HLS", server.Url($"{point}/master.m3u8"), Path.Combine(folder, "hls.ts")),
            ("DASH", server.Url($"{point}/manifest.mpd"), Path.Combine(folder, "dash.mp4")),
        })
        {
            var copy = await Tool.RunAsync("ffmpeg", ["-v", "error", "-i", url.ToString(), "-map", "0:v:0", "-map", "0:a:0", "-c", "copy", file]);
            Assert.True(copy.ExitCode == 0 && copy.StdErr.Length == 0, $"{name}: {Tool.Describe(copy)}");
            var streams = await Tool.ProbeAsync(file, "-show_entries", "stream=codec_name", "-of", "csv=p=0");
            Assert.Equal(["aac", "h264"], streams.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(s => s.Trim()).Distinct().Order());
            var duration = double.Parse(await Tool.ProbeAsync(file, "-show_entries", "format=duration", "-of", "csv=p=0"), CultureInfo.InvariantCulture);
            Assert.InRange(duration, Seconds - 2, Seconds + 2);
        }
    }
}
