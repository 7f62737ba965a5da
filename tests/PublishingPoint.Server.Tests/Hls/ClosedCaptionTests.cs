using System.Globalization;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>
/// CEA-608 captions in the video's SEI (ATSC A/53 cc_data, as broadcast encoders carry them) survive every output, and
/// the masters declare them: ffmpeg's own caption decoder reads the same text back from our TS, fMP4 and DASH output.
/// </summary>
public sealed class ClosedCaptionTests
{
    private const string Point = "live/cc.isml";

    [Fact]
    public async Task CaptionsInSei_AreDeclaredInTheMasters_AndDecodeFromEveryOutput()
    {
        var video = await CaptionedVideoAsync();
        var server = await RunningServer.StartAsync();
        var push = await Tool.RunAsync("ffmpeg",
        [
            "-hide_banner", "-loglevel", "error", "-i", video, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", "8", "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", "-b:a", "64k", "-movflags", "isml+frag_keyframe", "-f", "ismv",
            server.Url($"{Point}/Streams(cc)").ToString(),
        ]);
        Assert.True(push.ExitCode == 0, Tool.Describe(push));
        // ffmpeg does not wait for the answer to its POST: the server may still be reading the body when ffmpeg exits.
        await Security.IngestAuthenticationTests.WaitForStateAsync(server, Point, "vod");

        foreach (var name in new[] { "master.m3u8", "master-fmp4.m3u8" })
        {
            var resp = await server.Http.GetAsync($"{Point}/{name}");
            var master = await resp.Content.ReadAsStringAsync();
            Assert.True(resp.IsSuccessStatusCode, $"{name}: {(int)resp.StatusCode} {master}");
            var captions = HlsText.AttributeLines(master, "#EXT-X-MEDIA").Single(m => m.Attributes["TYPE"] == "CLOSED-CAPTIONS").Attributes;
            Assert.Equal("CC1", captions["INSTREAM-ID"]);
            Assert.All(HlsText.AttributeLines(master, "#EXT-X-STREAM-INF").Where(v => v.Attributes.ContainsKey("RESOLUTION")),
                v => Assert.Equal(captions["GROUP-ID"], v.Attributes["CLOSED-CAPTIONS"]));
        }

        var mpd = System.Xml.Linq.XDocument.Parse(await server.Http.GetStringAsync($"{Point}/manifest.mpd"));
        var accessibility = mpd.Descendants().Single(e => e.Name.LocalName == "Accessibility");
        Assert.Equal("urn:scte:dash:cc:cea-608:2015", (string?)accessibility.Attribute("schemeIdUri"));
        Assert.Equal("CC1=und", (string?)accessibility.Attribute("value"));
        Assert.Equal("video", (string?)accessibility.Parent!.Attribute("contentType"));

        var fmp4Master = await server.Http.GetStringAsync($"{Point}/master-fmp4.m3u8");
        var videoPlaylist = HlsText.AttributeLines(fmp4Master, "#EXT-X-STREAM-INF").First().Uri!;
        foreach (var output in new[] { videoPlaylist.Replace("-fmp4.m3u8", ".m3u8", StringComparison.Ordinal), videoPlaylist, "manifest.mpd" })
        {
            var text = await CaptionTextAsync(server.Url($"{Point}/{output}"));
            Assert.True(text.Contains("HI", StringComparison.Ordinal), $"{output}: no caption text decoded: {text}");
        }

        // After a restart the point comes back from its archive and still declares its captions.
        await server.DisposeAsync();
        await using var restarted = await RunningServer.StartAsync(server.DataPath);
        Assert.Contains("INSTREAM-ID=\"CC1\"", await restarted.Http.GetStringAsync($"{Point}/master.m3u8"), StringComparison.Ordinal);
    }

    /// <summary>ffmpeg reads the output (HLS or DASH demuxer, video copied as it is), then its caption decoder (the movie source's subcc output) gives SubRip text.</summary>
    private static async Task<string> CaptionTextAsync(Uri url)
    {
        var copy = Path.Combine(TempDirectory.Create("pp-cc-read"), "video.mp4");
        await Tool.RunCheckedAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-i", url.ToString(), "-map", "0:v:0", "-c", "copy", copy]);
        var result = await Tool.RunAsync("ffmpeg",
            ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", $"movie={copy}[out0+subcc]", "-map", "0:1", "-c:s", "srt", "-f", "srt", "-"]);
        Assert.True(result.ExitCode == 0, Tool.Describe(result));
        return result.StdOut;
    }

    /// <summary>
    /// 8 s of H.264 (made as Annex B with one access unit delimiter per frame, then put in MP4) with a caption SEI after every delimiter: pop-on
    /// captions saying "HI" (resume caption loading, the two characters, end of caption), as cc_data field 1.
    /// </summary>
    private static async Task<string> CaptionedVideoAsync()
    {
        var folder = TempDirectory.Create("pp-cc");
        var plain = Path.Combine(folder, "plain.h264");
        await Tool.RunCheckedAsync("ffmpeg",
        [
            "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25", "-t", "8", "-pix_fmt", "yuv420p",
            "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-x264-params", "aud=1", "-bsf:v", "h264_mp4toannexb", "-f", "h264", plain,
        ]);
        (byte, byte)[] cycle = [(0x94, 0x20), (0xC8, 0x49), (0x94, 0x2F), (0x80, 0x80)];
        var source = await File.ReadAllBytesAsync(plain);
        var output = new List<byte>(source.Length + 16_000);
        var frame = 0;
        for (var i = 0; i < source.Length; i++)
        {
            output.Add(source[i]);
            // After an access unit delimiter NAL (00 00 00 01 09 xx): the SEI of this frame.
            if (i >= 5 && source[i - 5] == 0 && source[i - 4] == 0 && source[i - 3] == 0 && source[i - 2] == 1 && source[i - 1] == 0x09)
            {
                var (b1, b2) = cycle[frame++ / 5 % cycle.Length];
                output.AddRange([0, 0, 0, 1, 0x06, 0x04, 14, 0xB5, 0x00, 0x31, 0x47, 0x41, 0x39, 0x34, 0x03, 0x41, 0xFF, 0xFC, b1, b2, 0xFF, 0x80]);
            }
        }

        Assert.True(frame >= 190, string.Create(CultureInfo.InvariantCulture, $"only {frame} access unit delimiters found"));
        var captioned = Path.Combine(folder, "captioned.h264");
        await File.WriteAllBytesAsync(captioned, output.ToArray());
        var mp4 = Path.Combine(folder, "captioned.mp4");
        await Tool.RunCheckedAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-framerate", "25", "-f", "h264", "-i", captioned, "-c", "copy", mp4]);
        return mp4;
    }
}
