using System.Globalization;
using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>
/// A live TS segment muxes the point's audio, so it is listed only once the audio up to its end has arrived: with the
/// audio encoder far behind the video one, the TS playlist's window ends where the audio ends, while the fMP4 video
/// playlist (no audio in its segments) goes on to the video's edge.
/// </summary>
public sealed class AudioBehindTests
{
    private const string Point = "live/behind.isml";

    [Fact]
    public async Task TsVideoPlaylist_EndsWhereTheAudioEnds_WithItsWindowBehindIt()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:DvrWindowSeconds=10", "--PublishingPoint:FinalizeGraceSeconds=3600");
        var video = await IsmvCapture.MakeAsync(80, 300, 0);
        var audio = await AudioCaptureAsync(40);
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(v)", WithoutEnd(video))).Status);
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", WithoutEnd(audio))).Status);

        var fmp4 = HlsText.Segments(await server.Http.GetStringAsync($"{Point}/hls/video-300000-fmp4.m3u8"));
        Assert.Equal("video-300000/39.m4s", fmp4[^1].Uri);
        var ts = await server.Http.GetStringAsync($"{Point}/hls/video-300000.m3u8");
        var segments = HlsText.Segments(ts);
        var last = int.Parse(segments[^1].Uri["video-300000/".Length..^3], CultureInfo.InvariantCulture);
        Assert.InRange(last, 18, 19);
        Assert.InRange(segments.Sum(s => s.Duration), 10, 12.1);
        Assert.Equal(last - segments.Count + 1, HlsText.LongTag(ts, "#EXT-X-MEDIA-SEQUENCE"));

        // The newest TS segment listed has its audio through its end.
        var file = Path.Combine(TempDirectory.Create("pp-behind"), "last.ts");
        await File.WriteAllBytesAsync(file, await server.Http.GetByteArrayAsync($"{Point}/hls/{segments[^1].Uri}"));
        var streams = await Tool.ProbeAsync(file, "-show_entries", "stream=codec_type,duration", "-of", "csv=p=0");
        var audioLines = streams.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("audio", StringComparison.Ordinal)).Distinct().ToList(); // once in its program, once alone
        Assert.True(audioLines.Count == 1, streams);
        Assert.InRange(double.Parse(audioLines[0].Split(',')[1], CultureInfo.InvariantCulture), 1.9, 2.1);
    }

    private static byte[] WithoutEnd(byte[] capture) => capture[..Boxes.TopLevel(capture).Single(b => b.Type == "mfra").Offset];

    /// <summary>An audio-only ismv push (AAC at 64 kbit/s in 2 s fragments), as ffmpeg sends it.</summary>
    private static async Task<byte[]> AudioCaptureAsync(int seconds)
    {
        var file = Path.Combine(TempDirectory.Create("pp-behind"), "audio.ismv");
        await Tool.RunCheckedAsync("bash", ["-c", $"ffmpeg -hide_banner -loglevel error -f lavfi -i sine=frequency=440:sample_rate=48000 -t {seconds} -c:a aac -b:a 64k -frag_duration 2000000 -movflags isml -f ismv pipe:1 > '{file}'"]);
        return await File.ReadAllBytesAsync(file);
    }
}
