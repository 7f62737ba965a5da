using System.Globalization;
using System.Net.Http.Headers;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>
/// I-frame playlists (RFC 8216bis 4.3.3.6, EXT-X-I-FRAME-STREAM-INF): both masters list one per video variant, and
/// each entry is a byte range of a segment that exists, holding its keyframe. ffprobe decodes the TS one as I-frames
/// only; the fMP4 ranges, after the init segment, decode as a keyframe.
/// </summary>
public sealed class IFramePlaylistTests
{
    private const string Point = "live/trick.isml";

    [Fact]
    public async Task TimeShiftedIFramePlaylist_AskedFirst_FindsItsRangesBeforeItsRender_AndDecodesAsKeyframes()
    {
        await using var server = await RunningServer.StartAsync();
        Assert.Equal(System.Net.HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/shift.isml/Streams(a)", await IsmvCapture.MakeAsync(12, 200, 32))).Status);
        var master = await server.Http.GetStringAsync("live/shift.isml/master.m3u8");
        var media = await server.Http.GetStringAsync("live/shift.isml/" + HlsText.AttributeLines(master, "#EXT-X-STREAM-INF")[0].Uri!);
        var iframes = HlsText.AttributeLines(master, "#EXT-X-I-FRAME-STREAM-INF")[0].Attributes["URI"];

        // No I-frame playlist was asked for yet: the ranges of the shifted one are found for it, before its render.
        var start = DateTimeOffset.Parse(HlsText.Tag(media, "#EXT-X-PROGRAM-DATE-TIME")!, CultureInfo.InvariantCulture) + TimeSpan.FromSeconds(4.5);
        var url = server.Url($"live/shift.isml/{iframes}?start={start.ToUnixTimeSeconds()}").ToString();
        var shifted = await server.Http.GetStringAsync(url);
        Assert.Contains("#EXT-X-I-FRAMES-ONLY", shifted, StringComparison.Ordinal);
        var entries = HlsText.Segments(shifted).Count;
        Assert.InRange(entries, 2, 5); // of the six 2 s segments, those from 4 s on
        var frames = (await Tool.ProbeAsync(url, "-select_streams", "v", "-show_entries", "frame=pict_type", "-of", "csv=p=0"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(entries, frames.Length);
        Assert.All(frames, f => Assert.Equal("I", f.Split(',')[0]));
    }

    [Fact]
    public async Task AnAudioRenditionsIFramePlaylist_IsNotFound_ForTsAndFmp4()
    {
        await using var server = await RunningServer.StartAsync();
        Assert.Equal(System.Net.HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/audio.isml/Streams(a)", await IsmvCapture.MakeAsync(6, 200, 32))).Status);
        var master = await server.Http.GetStringAsync("live/audio.isml/master.m3u8");
        var audio = HlsText.AudioOnlyVariant(master);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await server.Http.GetAsync($"live/audio.isml/{audio}")).StatusCode);

        // (an audio track has no keyframe ranges to make: answered before any work, not 422 after a render each time)
        foreach (var iframes in new[] { audio.Replace(".m3u8", "-iframes.m3u8", StringComparison.Ordinal), audio.Replace(".m3u8", "-iframes-fmp4.m3u8", StringComparison.Ordinal) })
        {
            using var response = await server.Http.GetAsync($"live/audio.isml/{iframes}");
            Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
        }
    }

    [Fact]
    public async Task MastersListIFramePlaylists_LiveAndVod_WhoseRangesAreKeyframes()
    {
        await using var server = await RunningServer.StartAsync();
        var push = Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(a)"), new EncoderSettings { Seconds = 10, RealTime = true });

        // Live: listed in the master, entries growing, no end.
        var live = "";
        await Eventually.WaitUntilAsync(async () =>
        {
            using var response = await server.Http.GetAsync($"{Point}/{await IFramePlaylistAsync(server, "master.m3u8")}");
            live = response.IsSuccessStatusCode ? await response.Content.ReadAsStringAsync() : "";
            return HlsText.Segments(live).Count >= 2;
        }, "no live I-frame playlist with two entries", poll: TimeSpan.FromMilliseconds(250));
        Assert.Contains("#EXT-X-I-FRAMES-ONLY", live, StringComparison.Ordinal);
        Assert.DoesNotContain("#EXT-X-ENDLIST", live, StringComparison.Ordinal);
        Assert.True((await push).ExitCode == 0);

        // VOD, TS: ffprobe reads the I-frame playlist and gets one keyframe per entry, nothing else.
        var tsPlaylist = await IFramePlaylistAsync(server, "master.m3u8");
        var ts = await WaitForEndAsync(server, tsPlaylist);
        var entries = HlsText.Segments(ts).Count;
        Assert.True(entries >= 4, ts);
        var frames = (await Tool.ProbeAsync(server.Url($"{Point}/{tsPlaylist}").ToString(), "-select_streams", "v", "-show_entries", "frame=pict_type", "-of", "csv=p=0"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(entries, frames.Length);
        Assert.All(frames, f => Assert.Equal("I", f.Split(',')[0]));

        // VOD, fMP4: each range (moof + the keyframe) after the init segment decodes as one keyframe.
        var fmp4Playlist = await IFramePlaylistAsync(server, "master-fmp4.m3u8");
        var fmp4 = await WaitForEndAsync(server, fmp4Playlist);
        Assert.Contains("#EXT-X-MAP:URI=", fmp4, StringComparison.Ordinal);
        var folder = Path.GetDirectoryName(fmp4Playlist)!.Replace('\\', '/');
        var init = await server.Http.GetByteArrayAsync($"{Point}/{folder}/{Map(fmp4)}");
        foreach (var (uri, length) in Ranges(fmp4).Take(3))
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"{Point}/{folder}/{uri}");
            request.Headers.Range = new RangeHeaderValue(0, length - 1);
            using var response = await server.Http.SendAsync(request);
            var range = await response.Content.ReadAsByteArrayAsync();
            Assert.Equal(length, range.Length);
            var file = Path.Combine(TempDirectory.Create("pp-iframe"), "iframe.mp4");
            await File.WriteAllBytesAsync(file, [.. init, .. range]);
            var first = await Tool.ProbeAsync(file, "-select_streams", "v", "-read_intervals", "%+#1", "-show_entries", "frame=pict_type,key_frame", "-of", "csv=p=0");
            Assert.StartsWith("1,I", first.Split('\n', StringSplitOptions.RemoveEmptyEntries)[0].Trim(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ALongArchive_IsListedWhole_ByConcurrentRequests()
    {
        // 600 s in 2 s segments: 300 keyframe ranges to compute (once each, one request at a time) for the TS I-frame
        // playlist of the whole event; every request gets them all (a VOD playlist is rendered once and kept).
        await using var server = await RunningServer.StartAsync();
        var push = await Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(a)"),
            new EncoderSettings { Seconds = 600, RealTime = false, Width = 64, Height = 36, VideoKbps = 20, AudioKbps = 0 });
        Assert.True(push.ExitCode == 0, Tool.Describe(push));
        var playlist = await IFramePlaylistAsync(server, "master.m3u8");
        var media = HlsText.Segments(await WaitForEndAsync(server, playlist.Replace("-iframes", "", StringComparison.Ordinal)));
        Assert.Equal(300, media.Count);

        var answers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => server.Http.GetStringAsync($"{Point}/{playlist}")));
        Assert.All(answers, text => Assert.Equal(300, HlsText.Segments(text).Count));
    }

    private static async Task<string> IFramePlaylistAsync(RunningServer server, string master)
    {
        using var response = await server.Http.GetAsync($"{Point}/{master}");
        if (!response.IsSuccessStatusCode)
        {
            return "none.m3u8";
        }

        var lines = HlsText.AttributeLines(await response.Content.ReadAsStringAsync(), "#EXT-X-I-FRAME-STREAM-INF");
        var iframes = Assert.Single(lines).Attributes;
        Assert.StartsWith("avc1.", iframes["CODECS"], StringComparison.Ordinal);
        Assert.True(long.Parse(iframes["BANDWIDTH"], CultureInfo.InvariantCulture) > 0);
        return iframes["URI"];
    }

    private static async Task<string> WaitForEndAsync(RunningServer server, string playlist)
    {
        var text = "";
        await Eventually.WaitUntilAsync(async () => (text = await server.Http.GetStringAsync($"{Point}/{playlist}")).Contains("#EXT-X-ENDLIST", StringComparison.Ordinal),
            $"{playlist} never ended", poll: TimeSpan.FromMilliseconds(250));
        return text;
    }

    private static string Map(string playlist) =>
        System.Text.RegularExpressions.Regex.Match(playlist, @"#EXT-X-MAP:URI=""([^""]+)""").Groups[1].Value;

    private static IEnumerable<(string Uri, long Length)> Ranges(string playlist)
    {
        var lines = playlist.Split('\n', StringSplitOptions.TrimEntries);
        for (var i = 0; i + 1 < lines.Length; i++)
        {
            if (lines[i].StartsWith("#EXT-X-BYTERANGE:", StringComparison.Ordinal))
            {
                var range = lines[i]["#EXT-X-BYTERANGE:".Length..].Split('@');
                Assert.Equal("0", range[1]);
                yield return (lines[i + 1], long.Parse(range[0], CultureInfo.InvariantCulture));
            }
        }
    }
}
