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
}
