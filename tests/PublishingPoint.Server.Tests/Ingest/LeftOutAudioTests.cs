using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Ingest;

/// <summary>Audio the server cannot serve (AC-3 beside AAC, as broadcasters push 5.1 next to stereo) is left out, not fatal.</summary>
public sealed class LeftOutAudioTests
{
    /// <summary>
    /// An ffmpeg CMAF push with H.264, AAC at 128 kbit/s and AC-3 at 384 kbit/s. The AC-3 track was taken in and, as
    /// the point's first audio by bit rate, chosen for every HLS variant: the master playlist and every TS segment
    /// failed (the HLS packager needs AAC), for every viewer (a review's finding). It is left out now, with a log line,
    /// and the point plays its AAC everywhere.
    /// </summary>
    [Fact]
    public async Task AnAc3TrackBesideAac_IsLeftOut_AndThePointPlaysItsAac()
    {
        var capture = await IsmvCapture.CaptureAsync((target, _) =>
        [
            "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", "6", "-map", "0:v", "-map", "1:a", "-map", "1:a", "-c:v", "libx264", "-g", "50", "-b:v", "400k",
            "-c:a:0", "aac", "-b:a:0", "128k", "-c:a:1", "ac3", "-b:a:1", "384k",
            "-movflags", "cmaf+empty_moov+default_base_moof+delay_moov", "-frag_duration", "2000000", "-f", "mp4", target.ToString(),
        ], new EncoderSettings { RealTime = false });
        var log = new LogCapture(Microsoft.Extensions.Logging.LogLevel.Warning);
        await using var server = await RunningServer.StartAsync(null, services =>
            Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(services, log));

        var (status, body) = await Posting.PostChunkedAsync(server.Http, "live/ac3.isml/Streams(enc1)", capture);
        Assert.True(status == HttpStatusCode.OK, body);

        using var master = await server.Http.GetAsync("live/ac3.isml/master.m3u8");
        var text = await master.Content.ReadAsStringAsync();
        Assert.True(master.StatusCode == HttpStatusCode.OK, text);
        Assert.Contains("mp4a.40.2", text, StringComparison.Ordinal);
        Assert.DoesNotContain("ac-3", text, StringComparison.Ordinal);

        // ffprobe reads the HLS TS presentation (master, media playlist, segments): H.264 and AAC.
        var streams = await Tool.ProbeAsync(server.Url("live/ac3.isml/master.m3u8").ToString(), "-show_entries", "stream=codec_name", "-of", "csv=p=0");
        Assert.Equal(["aac", "h264"], streams.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().Order());
        using var mpd = await server.Http.GetAsync("live/ac3.isml/manifest.mpd");
        Assert.Equal(HttpStatusCode.OK, mpd.StatusCode);
        Assert.Equal(1, (await SmoothManifestView.FetchVodAsync(server.Http, "live/ac3.isml/Manifest")).Root.Elements("StreamIndex").Count(e => (string?)e.Attribute("Type") == "audio"));
        Assert.Contains(log.Entries, e => e.Message.Contains("audio track 3 is left out", StringComparison.Ordinal)
            && e.Message.Contains("not AAC", StringComparison.Ordinal));
    }
}
