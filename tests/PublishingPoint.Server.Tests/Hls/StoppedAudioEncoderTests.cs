using System.Globalization;
using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>
/// One encoder per bit rate, each with its own audio (a common ladder: 640x360 with 128 kbit/s AAC, 320x180 with
/// 64 kbit/s). TS variants mux the point's first audio, the 128 kbit/s one, and each TS segment is listed only once
/// that audio covers its end: when the high encoder died, every TS variant froze where its audio ended, and the fMP4
/// master kept offering that audio. The audio still fed takes over.
/// </summary>
public sealed class StoppedAudioEncoderTests
{
    private const string Point = "live/twoaudio.isml";

    [Fact]
    public async Task WhenTheEncoderOfTheFirstAudioStops_TheTsVariantsGoOnWithTheAudioStillFed()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=3600", "--PublishingPoint:DvrWindowSeconds=60");
        var high = IsmvCapture.WithoutEnd(await IsmvCapture.MakeAsync(6, 600, 128, 640, 360));
        var low = IsmvCapture.WithoutEnd(await IsmvCapture.MakeAsync(30, 300, 64));
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(hi)", high)).Status);
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(lo)", low)).Status);

        var playlist = await server.Http.GetStringAsync($"{Point}/hls/video-300000.m3u8");
        var segments = HlsText.Segments(playlist);
        Assert.True(segments.Sum(s => s.Duration) >= 26, $"the TS variant stops at {segments.Sum(s => s.Duration):0.0} s:\n{playlist}");

        // Its newest segment carries audio through its end: the 64 kbit/s track's.
        var file = Path.Combine(TempDirectory.Create("pp-twoaudio"), "last.ts");
        await File.WriteAllBytesAsync(file, await server.Http.GetByteArrayAsync($"{Point}/hls/{segments[^1].Uri}"));
        var streams = await Tool.ProbeAsync(file, "-show_entries", "stream=codec_type,duration", "-of", "csv=p=0");
        var audio = streams.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("audio", StringComparison.Ordinal)).Distinct().ToList();
        Assert.True(audio.Count == 1, streams);
        Assert.InRange(double.Parse(audio[0].Split(',')[1], CultureInfo.InvariantCulture), 1.9, 2.1);

        var master = await server.Http.GetStringAsync($"{Point}/master-fmp4.m3u8");
        var rendition = Assert.Single(HlsText.AttributeLines(master, "#EXT-X-MEDIA"));
        Assert.Equal("hls/audio-64000-fmp4.m3u8", rendition.Attributes["URI"]);
    }

    /// <summary>
    /// The TS variants' audio is chosen per segment: the first encoder's (here 44.1 kHz) for the segments it has
    /// audio for, the other's (48 kHz) after it stopped, with EXT-X-DISCONTINUITY where it changes, which a
    /// player needs to take the other AAC configuration. Chosen at the edge, every segment made after the first encoder
    /// stopped muxed the other's audio, the segments of its time too, and no tag marked the change.
    /// </summary>
    [Fact]
    public async Task TheTsAudioIsChosenPerSegment_AndWhereItChangesThePlaylistMarksADiscontinuity_ThatHlsJsPlaysAcross()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=3600", "--PublishingPoint:DvrWindowSeconds=60");
        var high = IsmvCapture.WithoutEnd(await IsmvCapture.CaptureAsync((target, s) =>
        [
            "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=frequency=880:sample_rate=44100",
            "-t", "6", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-b:v", "600k", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
            "-c:a", "aac", "-ac", "1", "-b:a", "96k", "-movflags", "isml+frag_keyframe", "-f", "ismv", target.ToString(),
        ], new EncoderSettings { RealTime = false }));
        var low = IsmvCapture.WithoutEnd(await IsmvCapture.MakeAsync(30, 300, 64));
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(hi)", high)).Status);
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(lo)", low)).Status);

        var playlist = await server.Http.GetStringAsync($"{Point}/hls/video-300000.m3u8");
        var lines = playlist.Split('\n');
        var tags = lines.Select((l, i) => (l, i)).Where(x => x.l == "#EXT-X-DISCONTINUITY").Select(x => x.i).ToList();
        var marked = Assert.Single(tags);
        Assert.EndsWith("/3.ts", lines.Skip(marked).First(l => l.EndsWith(".ts", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.DoesNotContain("#EXT-X-DISCONTINUITY-SEQUENCE", playlist, StringComparison.Ordinal);

        var segments = HlsText.Segments(playlist);
        var folder = TempDirectory.Create("pp-twoaudio");
        foreach (var (index, expected) in new[] { (0, "44100,1"), (2, "44100,1"), (3, "48000,1"), (segments.Count - 1, "48000,1") })
        {
            var file = Path.Combine(folder, $"{index}.ts");
            await File.WriteAllBytesAsync(file, await server.Http.GetByteArrayAsync($"{Point}/hls/{segments[index].Uri}"));
            var audio = await Tool.ProbeAsync(file, "-select_streams", "a", "-show_entries", "stream=sample_rate,channels", "-of", "csv=p=0");
            // ffprobe lists a TS stream once for its program and once on its own.
            var found = audio.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
            Assert.True(found is [var one] && one == expected, $"segment {index}: [{string.Join("; ", found)}], want {expected}");
        }

        // A window past the change counts it in the discontinuity sequence, from the first playlist it lists.
        await using (var windowed = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=3600", "--PublishingPoint:DvrWindowSeconds=10"))
        {
            Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(windowed.Http, $"{Point}/Streams(hi)", high)).Status);
            Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(windowed.Http, $"{Point}/Streams(lo)", low)).Status);
            var window = await windowed.Http.GetStringAsync($"{Point}/hls/video-300000.m3u8");
            Assert.True(HlsText.LongTag(window, "#EXT-X-MEDIA-SEQUENCE") > 3, window);
            Assert.Equal(1, HlsText.LongTag(window, "#EXT-X-DISCONTINUITY-SEQUENCE"));
            Assert.DoesNotContain("#EXT-X-DISCONTINUITY\n", window, StringComparison.Ordinal);
        }

        // As VOD, hls.js plays from the start across the change.
        Assert.Equal(HttpStatusCode.OK, (await server.Http.PostAsync($"api/points/{Point}/close", System.Net.Http.Json.JsonContent.Create(new { }))).StatusCode);
        var hlsJs = Chromium.NodeModule("hls.js", "dist/hls.min.js");
        using var playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var url = server.Url($"{Point}/hls/video-300000.m3u8");
        var (page, log) = await Chromium.OpenPlayerPageAsync(browser, url, "hls.min.js", hlsJs, HlsJsPage.Html(url));
        var (time, advanced, errors) = await Chromium.WatchPlayheadAsync(page, "window.fatal.join('; ')", 9);
        Assert.True(advanced >= 9 && errors.Length == 0, $"currentTime {time:0.00}, advanced {advanced:0.00}, errors [{errors}]:\n{string.Join('\n', log)}");
    }
}
