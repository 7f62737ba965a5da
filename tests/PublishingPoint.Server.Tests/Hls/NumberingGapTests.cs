using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>
/// Segments are numbered by media time, so an outage (of the encoder, or of this origin) leaves numbers without a
/// segment. A live playlist numbers its segments implicitly, and used to list only the run after the last such gap: one
/// segment right after the outage (under the three target durations RFC 8216 6.2.2 asks, so a new Safari viewer could
/// not start) and a DVR window cut to what came since (a review's finding). The missing numbers are listed as
/// EXT-X-GAP segments now, and the window keeps what came before.
/// </summary>
public sealed class NumberingGapTests
{
    [Fact]
    public async Task AnOutageInTheWindow_IsListedAsGapSegments_AndHlsJsPlaysAcrossIt()
    {
        const string Point = "live/outage.isml";
        // 24 s in 2 s fragments; the encoder's fragments from 8 s to 12 s never arrive (video segments 4 and 5).
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.MakeAsync(24, 300, 64));
        var kept = fragments.Where(f => Boxes.TfxdTime(f) is < 80_000_000 or >= 120_000_000).ToList();
        Assert.True(kept.Count < fragments.Count);
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=3600");
        var (status, body) = await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", [.. header, .. kept.SelectMany(f => f)]);
        Assert.True(status == HttpStatusCode.OK, body);

        await ListsTheOutageAsGapsAsync(server, Point, vod: false);

        // hls.js, from the window's start, plays through the outage to the segments after it.
        var hlsJs = Chromium.NodeModule("hls.js", "dist/hls.min.js");
        using var playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var url = server.Url($"{Point}/master.m3u8");
        var (page, log) = await Chromium.OpenPlayerPageAsync(browser, url, "hls.min.js", hlsJs, HlsJsPage.Html(url, "{ startPosition: 0 }"));
        var (time, advanced, errors) = await Chromium.WatchPlayheadAsync(page, "window.fatal.join('; ')", 14);
        Assert.True(time >= 13.5 && errors.Length == 0, $"currentTime {time:0.00}, advanced {advanced:0.00}, errors [{errors}]:\n{string.Join('\n', log)}");
    }

    [Fact]
    public async Task AnOutageInAFinishedEvent_IsListedAsGapSegmentsInTheVodPlaylists_UnderTheSameNumbers()
    {
        // The VOD playlists number their segments implicitly too: listed without the gap (a discontinuity instead),
        // every segment after an outage took a number lower than its name's, so a live viewer's numbers shifted at the
        // turn to VOD.
        const string Point = "live/outagevod.isml";
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.MakeAsync(24, 300, 64));
        var kept = fragments.Where(f => Boxes.TfxdTime(f) is < 80_000_000 or >= 120_000_000).ToList();
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=0");
        var (status, body) = await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", [.. header, .. kept.SelectMany(f => f)]);
        Assert.True(status == HttpStatusCode.OK, body);
        await Eventually.WaitUntilAsync(async () => (await server.Http.GetStringAsync($"{Point}/hls/video-300000.m3u8")).Contains("#EXT-X-ENDLIST", StringComparison.Ordinal),
            "the point never became VOD");

        await ListsTheOutageAsGapsAsync(server, Point, vod: true);
    }

    [Fact]
    public async Task AGapThatCannotBeFilled_IsADiscontinuityInTheVodPlaylists_NotGapEntries()
    {
        // Segment 4 ([8, 10) s) never arrives and the encoder's timeline goes on 0.9 s late: one number missing over
        // 2.9 s, a share that rounds to 3 s, more than the nominal 2 s (the target duration would have to grow for it).
        const string Point = "live/jump.isml";
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.MakeAsync(24, 300, 64));
        var kept = fragments.Where(f => Boxes.TfxdTime(f) is < 80_000_000 or >= 100_000_000)
            .Select(f => Boxes.TfxdTime(f) >= 100_000_000 ? Boxes.ShiftTfxd(f, 9_000_000) : f).ToList();
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=0");
        var (status, body) = await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", [.. header, .. kept.SelectMany(f => f)]);
        Assert.True(status == HttpStatusCode.OK, body);
        await Eventually.WaitUntilAsync(async () => (await server.Http.GetStringAsync($"{Point}/hls/video-300000.m3u8")).Contains("#EXT-X-ENDLIST", StringComparison.Ordinal),
            "the point never became VOD");

        foreach (var playlistName in new[] { "hls/video-300000.m3u8", "hls/video-300000-fmp4.m3u8" })
        {
            var playlist = await server.Http.GetStringAsync($"{Point}/{playlistName}");
            Assert.DoesNotContain("#EXT-X-GAP", playlist, StringComparison.Ordinal);
            Assert.Contains("#EXT-X-DISCONTINUITY\n", playlist, StringComparison.Ordinal);
            Assert.Equal(2, HlsText.LongTag(playlist, "#EXT-X-TARGETDURATION"));
            var numbers = HlsText.Segments(playlist).Select(s => s.Uri[(s.Uri.LastIndexOf('/') + 1)..s.Uri.LastIndexOf('.')]).ToList();
            Assert.Equal(["0", "1", "2", "3", "5"], numbers.Take(5));
        }
    }

    // Segments 0 to 11 under their own numbers (the implicit number of each is its name's), 4 and 5 as EXT-X-GAP with
    // the outage's 4 s between them, no discontinuity, and a gap's URI answers 404.
    private static async Task ListsTheOutageAsGapsAsync(RunningServer server, string point, bool vod)
    {
        foreach (var playlistName in new[] { "hls/video-300000.m3u8", "hls/video-300000-fmp4.m3u8" })
        {
            var playlist = await server.Http.GetStringAsync($"{point}/{playlistName}");
            Assert.Equal(0, HlsText.LongTag(playlist, "#EXT-X-MEDIA-SEQUENCE"));
            var segments = HlsText.Segments(playlist);
            Assert.True(segments.Count == 12, playlist);
            Assert.Equal(Enumerable.Range(0, 12).Select(n => $"/{n}."), segments.Select(s => s.Uri[s.Uri.LastIndexOf('/')..(s.Uri.LastIndexOf('.') + 1)]));
            var lines = HlsText.Lines(playlist);
            var gaps = lines.Select((line, i) => (line, i)).Where(x => x.line == "#EXT-X-GAP").Select(x => lines.Skip(x.i).First(l => !l.StartsWith('#'))).ToList();
            var extension = playlistName.EndsWith("-fmp4.m3u8", StringComparison.Ordinal) ? "m4s" : "ts";
            Assert.True(gaps is [var four, var five] && four.EndsWith($"/4.{extension}", StringComparison.Ordinal) && five.EndsWith($"/5.{extension}", StringComparison.Ordinal), playlist);
            Assert.InRange(segments[4].Duration + segments[5].Duration, 3.99, 4.01); // the outage's time, so the timeline runs on
            Assert.DoesNotContain("#EXT-X-DISCONTINUITY", playlist, StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync($"{point}/hls/{segments[4].Uri}")).StatusCode);
            Assert.Equal(vod, playlist.Contains("#EXT-X-ENDLIST", StringComparison.Ordinal));
        }
    }
}
