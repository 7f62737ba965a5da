using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>
/// EXT-X-TARGETDURATION is one value for every media playlist of a presentation (RFC 8216 6.2.4), and covers each
/// EXTINF rounded to the nearest second (4.3.3.1). Each playlist used to take its own track's longest segment rounded
/// up, so the README's CMAF push at 29.97 fps with AAC at 44.1 kHz (2.002 s video, 1.997 and 2.020 s audio) said 3 and
/// a HOLD-BACK of 9 s, and a ladder whose renditions' fragments differ said different values in one master.
/// </summary>
public sealed class TargetDurationTests
{
    [Fact]
    public async Task EveryMediaPlaylistOfAPoint_SaysOneTargetDuration_TheLongestSegmentRoundedToTheNearestSecond()
    {
        var muxed = await CaptureAsync(
            ["-f", "lavfi", "-i", "testsrc=size=320x180:rate=30000/1001", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
             "-c:v", "libx264", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0", "-b:v", "400k", "-c:a", "aac", "-b:a", "64k",
             "-movflags", "cmaf+frag_keyframe+empty_moov+default_base_moof"]);
        // A second encoder of the same point sends its audio in 3 s fragments (another GOP length than the video's).
        var longAudio = await CaptureAsync(
            ["-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000", "-c:a", "aac", "-b:a", "192k",
             "-movflags", "cmaf+empty_moov+default_base_moof", "-frag_duration", "3000000"]);
        await using var server = await RunningServer.StartAsync();

        await using var alone = await StartLiveAsync(server, "live/td-one.isml/Streams(enc1)", muxed);
        await using var first = await StartLiveAsync(server, "live/td-two.isml/Streams(enc1)", muxed);
        await using var second = await StartLiveAsync(server, "live/td-two.isml/Streams(enc2)", longAudio);

        var one = await TargetDurationsAsync(server, "live/td-one.isml");
        Assert.True(one.Values.All(t => t.Target == 2), Describe(one));
        Assert.Contains(one.Values, t => t.Longest > 2.0); // the case that was rounded up to 3 before

        var two = await TargetDurationsAsync(server, "live/td-two.isml");
        Assert.True(two.Values.All(t => t.Target == 3), Describe(two));
        Assert.Contains(two, p => p.Key.StartsWith("hls/video-", StringComparison.Ordinal) && p.Value.Longest < 2.5); // its own segments round to 2
    }

    private static Task<byte[]> CaptureAsync(string[] encoding) => IsmvCapture.CaptureAsync((target, _) =>
        [.. new[] { "-hide_banner", "-loglevel", "error" }, .. encoding, "-t", "14", "-f", "mp4", target.ToString()],
        new EncoderSettings { RealTime = false });

    private static async Task<HeldPush> StartLiveAsync(RunningServer server, string path, byte[] capture)
    {
        var (header, fragments) = Boxes.SplitFragments(capture);
        var push = await HeldPush.StartAsync(server.BaseUrl, "/" + path);
        await push.SendAsync(header);
        foreach (var fragment in fragments)
        {
            await push.SendAsync(fragment);
        }

        return push;
    }

    // Every media playlist the two masters name (variants and renditions), once each lists three segments: its target
    // duration and longest EXTINF; every EXTINF must round to at most the target.
    private static async Task<Dictionary<string, (long Target, double Longest)>> TargetDurationsAsync(RunningServer server, string point)
    {
        var uris = new HashSet<string>(StringComparer.Ordinal);
        await Eventually.WaitUntilAsync(async () =>
        {
            uris.Clear();
            foreach (var master in new[] { "master.m3u8", "master-fmp4.m3u8" })
            {
                using var response = await server.Http.GetAsync($"{point}/{master}");
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    return false;
                }

                var text = await response.Content.ReadAsStringAsync();
                uris.UnionWith(HlsText.AttributeLines(text, "#EXT-X-STREAM-INF").Select(l => l.Uri!));
                uris.UnionWith(HlsText.AttributeLines(text, "#EXT-X-MEDIA").Where(l => l.Attributes.ContainsKey("URI")).Select(l => l.Attributes["URI"]));
            }

            return uris.Count(u => u.Contains("audio", StringComparison.Ordinal)) >= 2 && uris.Any(u => u.Contains("video", StringComparison.Ordinal));
        }, $"{point}'s masters never listed its video and audio playlists");

        var result = new Dictionary<string, (long, double)>(StringComparer.Ordinal);
        foreach (var uri in uris)
        {
            var playlist = "";
            await Eventually.WaitUntilAsync(async () =>
            {
                playlist = await server.Http.GetStringAsync($"{point}/{uri}");
                return HlsText.Segments(playlist).Count >= 4;
            }, $"{point}/{uri} never listed four segments");
            var target = HlsText.LongTag(playlist, "#EXT-X-TARGETDURATION");
            var durations = HlsText.Segments(playlist).Select(s => s.Duration).ToList();
            Assert.All(durations, d => Assert.True(Math.Round(d, MidpointRounding.AwayFromZero) <= target, $"{uri}: EXTINF {d} over {target}"));
            result[uri] = (target, durations.Max());
        }

        return result;
    }

    private static string Describe(Dictionary<string, (long Target, double Longest)> playlists) =>
        string.Join("; ", playlists.Select(p => $"{p.Key}: TARGETDURATION {p.Value.Target}, longest EXTINF {p.Value.Longest:0.000}"));
}
