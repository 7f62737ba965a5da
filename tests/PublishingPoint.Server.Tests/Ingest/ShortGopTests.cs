using System.Globalization;
using System.Net;
using PublishingPoint.Server.Tests.Hls;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Ingest;

/// <summary>
/// An encoder set to a keyframe every frame (all-intra, a contribution setting) sends a fragment a frame with
/// <c>frag_keyframe</c>: the segments still last about a second (at least nine tenths), not 25 a second, each a line
/// every playlist lists.
/// </summary>
public sealed class ShortGopTests
{
    private const string Point = "live/intra.isml";

    [Fact]
    public async Task AllIntraStream_MakesSegmentsOfAboutASecond_AndEveryFramePlays()
    {
        var directory = TempDirectory.Create("pp-intra");
        var file = Path.Combine(directory, "intra.ismv");
        await Tool.RunCheckedAsync("bash", ["-c", "ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc=size=160x90:rate=25 -f lavfi -i sine=sample_rate=48000 -t 4 "
            + "-pix_fmt yuv420p -c:v libx264 -preset veryfast -g 1 -b:v 300k -c:a aac -b:a 32k -movflags isml+frag_keyframe -f ismv pipe:1 > '" + file + "'"]);
        var capture = await File.ReadAllBytesAsync(file);
        var fragments = Boxes.TopLevel(capture).Count(b => b.Type == "moof");
        Assert.True(fragments >= 100, $"ffmpeg wrote {fragments} fragments, not one a frame");

        await using var server = await RunningServer.StartAsync();
        var (status, body) = await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", capture);
        Assert.True(status == HttpStatusCode.OK, body);
        var playlist = string.Empty;
        await Eventually.WaitUntilAsync(async () => HlsText.Segments(playlist = await server.Http.GetStringAsync($"{Point}/hls/video-300000.m3u8")).Count >= 3, "no playlist");

        var segments = HlsText.Segments(playlist);
        Assert.InRange(segments.Count, 3, 5);
        Assert.All(segments.SkipLast(1), s => Assert.True(s.Duration >= 0.9, $"a segment of {s.Duration} s:\n{playlist}"));
        var frames = await Tool.ProbeAsync(server.Url($"{Point}/hls/video-300000.m3u8").ToString(), "-select_streams", "v", "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0");
        Assert.All(frames.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            count => Assert.Equal(4 * 25, int.Parse(count, CultureInfo.InvariantCulture)));
    }
}
