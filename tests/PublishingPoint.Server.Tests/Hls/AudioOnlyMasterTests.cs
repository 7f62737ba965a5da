using System.Globalization;
using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>
/// A radio channel (an encoder pushing audio only) has master playlists too: its audio is the one variant. The master
/// was built from the video variants alone, so such a point answered 404 for both masters (and the store got none),
/// while its media playlists played.
/// </summary>
public sealed class AudioOnlyMasterTests
{
    [Fact]
    public async Task AnAudioOnlyPoint_HasBothMasters_AndFfprobeReadsItsAudioThroughThem()
    {
        var body = await IsmvCapture.AudioOnlyCmafAsync();
        await using var server = await RunningServer.StartAsync();
        var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/radio.isml/Streams(a)", body);
        Assert.True(status == HttpStatusCode.OK, text);

        foreach (var master in new[] { "master.m3u8", "master-fmp4.m3u8" })
        {
            using var response = await server.Http.GetAsync($"live/radio.isml/{master}");
            var playlist = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{master}: {(int)response.StatusCode}");
            var variant = Assert.Single(HlsText.AttributeLines(playlist, "#EXT-X-STREAM-INF"));
            Assert.StartsWith("mp4a.40.", variant.Attributes["CODECS"], StringComparison.Ordinal);
            Assert.DoesNotContain("#EXT-X-MEDIA:", playlist, StringComparison.Ordinal); // no group pointing at itself

            var probe = await Tool.ProbeAsync(server.Url($"live/radio.isml/{master}").ToString(), "-show_entries", "stream=codec_type:format=duration", "-of", "csv=p=0");
            var lines = probe.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.Contains("audio", lines);
            Assert.DoesNotContain("video", lines);
            Assert.InRange(double.Parse(lines.Last(), CultureInfo.InvariantCulture), 7, 9);
        }
    }
}
