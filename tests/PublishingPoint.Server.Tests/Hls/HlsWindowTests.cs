using System.Globalization;
using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>The live window slides without renumbering; the finished point's VOD playlists survive a restart.</summary>
public sealed class HlsWindowTests
{
    [Fact]
    public async Task WindowSlides_SegmentsKeepTheirNumbers_ThenVodAfterRestart()
    {
        var server = await RunningServer.StartAsync(null, "--PublishingPoint:DvrWindowSeconds=10", "--PublishingPoint:FinalizeGraceSeconds=3600");
        var data = server.DataPath;
        const string Playlist = "live/win.isml/hls/video-400000.m3u8";
        try
        {
            var capture = await IsmvCapture.MakeAsync(30, 400, 64);
            var mfra = Boxes.TopLevel(capture).Single(b => b.Type == "mfra").Offset;
            var moofs = Boxes.TopLevel(capture).Where(b => b.Type == "moof").Select(b => b.Offset).ToList();
            var half = moofs[moofs.Count / 2];

            // First half: the window already slid past the start.
            var (status, _) = await Posting.PostChunkedAsync(server.Http, "live/win.isml/Streams(a)", capture[..half]);
            Assert.Equal(HttpStatusCode.OK, status);
            var first = await server.Http.GetStringAsync(Playlist);
            var firstSequence = HlsText.LongTag(first, "#EXT-X-MEDIA-SEQUENCE");
            var firstSegments = HlsText.Segments(first);
            Assert.True(firstSequence > 0, first);
            Assert.InRange(firstSegments.Count, 3, 7);
            Assert.DoesNotContain("#EXT-X-ENDLIST", first, StringComparison.Ordinal);

            // Second half (the encoder continues): the window moves on, and a segment keeps its number.
            (status, _) = await Posting.PostChunkedAsync(server.Http, "live/win.isml/Streams(a)", [.. capture[..moofs[0]], .. capture[half..mfra]]);
            Assert.Equal(HttpStatusCode.OK, status);
            var second = await server.Http.GetStringAsync(Playlist);
            var secondSequence = HlsText.LongTag(second, "#EXT-X-MEDIA-SEQUENCE");
            Assert.True(secondSequence > firstSequence, second);
            var lastOfFirst = firstSegments[^1].Uri;
            var numberOfLast = firstSequence + firstSegments.Count - 1;
            Assert.EndsWith($"/{numberOfLast}.ts", lastOfFirst, StringComparison.Ordinal);
            var secondSegments = HlsText.Segments(second);
            Assert.EndsWith($"/{secondSequence}.ts", secondSegments[0].Uri, StringComparison.Ordinal);
            var stillThere = await server.Http.GetByteArrayAsync(new Uri(server.Url(Playlist), lastOfFirst));
            Assert.Equal(0x47, stillThere[0]);
        }
        finally
        {
            await server.DisposeAsync();
        }

        // The restart recovers and finalises the point: VOD playlists list every segment from 0.
        await using var restarted = await RunningServer.StartAsync(data);
        var vod = await restarted.Http.GetStringAsync(Playlist);
        Assert.Contains("#EXT-X-ENDLIST", vod, StringComparison.Ordinal);
        Assert.Contains("#EXT-X-PLAYLIST-TYPE:VOD", vod, StringComparison.Ordinal);
        Assert.Equal(0, HlsText.LongTag(vod, "#EXT-X-MEDIA-SEQUENCE"));
        var segments = HlsText.Segments(vod);
        Assert.Equal(15, segments.Count);
        Assert.InRange(segments.Sum(s => s.Duration), 29, 31);
        var pulled = Path.Combine(TempDirectory.Create("pp-win"), "vod.ts");
        var copy = await Tool.RunAsync("ffmpeg", ["-v", "error", "-i", restarted.Url(Playlist).ToString(), "-c", "copy", pulled]);
        Assert.True(copy.ExitCode == 0 && copy.StdErr.Length == 0, Tool.Describe(copy));
        var duration = await Tool.ProbeAsync(pulled, "-show_entries", "format=duration", "-of", "csv=p=0");
        Assert.InRange(double.Parse(duration, CultureInfo.InvariantCulture), 28, 32);
    }
}
