using System.Net;
using System.Text.Json;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>
/// The DVR window lives on disk: only the newest MemoryWindowSeconds of each track keep their bytes and sample tables
/// in memory, and the rest of the window is read (and its tables parsed again) from the archive, byte for byte what a
/// server holding everything in memory serves.
/// </summary>
[Collection("memory measurements")] // not beside each other: one measures the whole process's managed heap
public sealed class DvrOnDiskTests
{
    private const string Point = "live/memwin.isml";

    [Fact]
    public async Task OlderWindow_IsServedFromTheArchive_TheSameBytes()
    {
        var capture = await IsmvCapture.MakeAsync(30, 400, 64);
        var mfra = Boxes.TopLevel(capture).Single(b => b.Type == "mfra").Offset;
        string[] live = ["--PublishingPoint:DvrWindowSeconds=120", "--PublishingPoint:FinalizeGraceSeconds=3600"];
        await using var lean = await RunningServer.StartAsync(null, [.. live, "--PublishingPoint:MemoryWindowSeconds=6"]);
        await using var full = await RunningServer.StartAsync(null, [.. live, "--PublishingPoint:MemoryWindowSeconds=3600"]);
        foreach (var server in new[] { lean, full })
        {
            var (status, text) = await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", capture[..mfra]); // still live
            Assert.True(status == HttpStatusCode.OK, text);
        }

        var (leanBytes, leanFragments) = await InMemoryAsync(lean);
        var (fullBytes, fullFragments) = await InMemoryAsync(full);
        Assert.Equal(fullFragments, leanFragments);
        Assert.True(leanBytes * 3 < fullBytes, $"{leanBytes} bytes in memory with a 6 s memory window, {fullBytes} with everything");

        // The masters' BANDWIDTH (from the sample sizes) and the I-frame playlists' byte ranges (from the first samples),
        // asked of the lean server first, when only its newest fragments have their tables in memory.
        var urls = new List<string> { $"{Point}/master.m3u8", $"{Point}/master-fmp4.m3u8" };
        foreach (var name in new[] { "master.m3u8", "master-fmp4.m3u8" })
        {
            urls.AddRange(HlsText.AttributeLines(await full.Http.GetStringAsync($"{Point}/{name}"), "#EXT-X-I-FRAME-STREAM-INF").Select(v => $"{Point}/{v.Attributes["URI"]}"));
        }

        Assert.Equal(2, urls.Count(u => u.Contains("-iframes", StringComparison.Ordinal))); // TS and fMP4, of the one video
        foreach (var url in urls)
        {
            var got = WithoutDates(await lean.Http.GetStringAsync(url));
            Assert.Equal(WithoutDates(await full.Http.GetStringAsync(url)), got);
            Assert.Contains(url.Contains("-iframes", StringComparison.Ordinal) ? "#EXT-X-BYTERANGE" : "BANDWIDTH=", got, StringComparison.Ordinal);
        }

        // Every TS and fMP4 segment of the 30 s window, and the Smooth fragments, the same from both.
        await AssertSameMediaAsync(full, lean, Point, 12);
    }

    /// <summary>Every TS and fMP4 segment and every Smooth video fragment of <paramref name="point"/> (at least <paramref name="segments"/> a playlist), the same bytes from both servers.</summary>
    internal static async Task AssertSameMediaAsync(RunningServer expected, RunningServer actual, string point, int segments)
    {
        var master = await expected.Http.GetStringAsync($"{point}/master-fmp4.m3u8");
        var urls = new List<string>();
        foreach (var playlist in HlsText.AttributeLines(master, "#EXT-X-STREAM-INF").Select(v => v.Uri!).Distinct())
        {
            var folder = playlist[..playlist.LastIndexOf('/')];
            foreach (var name in new[] { playlist, playlist.Replace("-fmp4.m3u8", ".m3u8", StringComparison.Ordinal) })
            {
                var listed = HlsText.Segments(await expected.Http.GetStringAsync($"{point}/{name}"));
                Assert.True(listed.Count >= segments, $"{name}: {listed.Count} segments");
                urls.AddRange(listed.Select(s => $"{point}/{folder}/{s.Uri}"));
            }
        }

        var smooth = await SmoothManifestView.FetchAsync(expected.Http, expected.Url($"{point}/Manifest").ToString());
        urls.AddRange(smooth.ChunkTimes("video").Select(t => new Uri(smooth.Url("video", smooth.Bitrates("video")[0], t)).PathAndQuery.TrimStart('/')));
        foreach (var url in urls)
        {
            var bytes = await expected.Http.GetByteArrayAsync(url);
            var got = await actual.Http.GetByteArrayAsync(url);
            Assert.True(bytes.AsSpan().SequenceEqual(got), url);
        }
    }

    [Fact]
    public async Task AFinishedPoint_KeepsNoFragmentInMemory_AndServesItsNewestSegmentsFromTheArchive()
    {
        var capture = await IsmvCapture.MakeAsync(10, 400, 64);
        var mfra = Boxes.TopLevel(capture).Single(b => b.Type == "mfra").Offset;
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=3600");
        var (status, text) = await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", capture[..mfra]); // still live
        Assert.True(status == HttpStatusCode.OK, text);
        Assert.True((await InMemoryAsync(server)).Bytes > 0, "the live edge is in memory");

        var playlist = HlsText.AttributeLines(await server.Http.GetStringAsync($"{Point}/master.m3u8"), "#EXT-X-STREAM-INF")[0].Uri!;
        var folder = playlist[..playlist.LastIndexOf('/')];
        var newest = $"{Point}/{folder}/{HlsText.Segments(await server.Http.GetStringAsync($"{Point}/{playlist}"))[^1].Uri}";
        var fromMemory = await server.Http.GetByteArrayAsync(newest);

        Assert.Equal(HttpStatusCode.OK, (await server.Http.PostAsync($"api/points/{Point}/close", System.Net.Http.Json.JsonContent.Create(new { }))).StatusCode);
        using (var json = JsonDocument.Parse(await server.Http.GetStringAsync($"api/points/{Point}")))
        {
            Assert.Equal("vod", json.RootElement.GetProperty("state").GetString());
        }

        Assert.Equal(0, (await InMemoryAsync(server)).Bytes);
        Assert.Contains("#EXT-X-ENDLIST", await server.Http.GetStringAsync($"{Point}/{playlist}"), StringComparison.Ordinal);
        Assert.Equal(fromMemory, await server.Http.GetByteArrayAsync(newest));
    }

    [Fact]
    public async Task AfterARestart_AVodPointsRenders_ReadTheArchiveOnThePool_NotOnAnEventThread()
    {
        // A restart's index holds no sample tables: the masters' BANDWIDTH and the fMP4 I-frame playlist's ranges read
        // every fragment's 'moof' from the archive on their first render.
        var capture = await IsmvCapture.MakeAsync(30, 400, 64);
        var server = await RunningServer.StartAsync(null);
        var data = server.DataPath;
        var before = new Dictionary<string, string>();
        string[] urls;
        try
        {
            var (status, text) = await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", capture);
            Assert.True(status == HttpStatusCode.OK, text);
            var master = await server.Http.GetStringAsync($"{Point}/master-fmp4.m3u8");
            var iframes = HlsText.AttributeLines(master, "#EXT-X-I-FRAME-STREAM-INF").Single().Attributes["URI"];
            urls = [$"{Point}/master.m3u8", $"{Point}/master-fmp4.m3u8", $"{Point}/{iframes}", $"{Point}/Manifest", $"{Point}/manifest.mpd"];
            foreach (var url in urls)
            {
                before[url] = WithoutDates(await server.Http.GetStringAsync(url));
            }
        }
        finally
        {
            await server.DisposeAsync();
        }

        await using var restarted = await RunningServer.StartAsync(data);
        // /metrics takes its connection off the event loop for good: it is read on a connection of its own, and the
        // player's requests come on one that stays on the loop.
        using var scraper = new HttpClient { BaseAddress = restarted.Http.BaseAddress };
        using var player = new HttpClient { BaseAddress = restarted.Http.BaseAddress };
        var (onPool, onEventThreads) = (await RendersAsync(scraper, "pool"), await RendersAsync(scraper, "event"));
        foreach (var url in urls)
        {
            Assert.Equal(before[url], WithoutDates(await player.GetStringAsync(url)));
        }

        Assert.Equal(onEventThreads, await RendersAsync(scraper, "event"));
        Assert.Equal(onPool + urls.Length, await RendersAsync(scraper, "pool"));
        Assert.Contains("BANDWIDTH=", before[urls[0]], StringComparison.Ordinal);
        Assert.Contains("#EXT-X-BYTERANGE", before[urls[2]], StringComparison.Ordinal);
    }

    private static async Task<double> RendersAsync(HttpClient http, string thread) =>
        await PrometheusText.SumAsync(http, "publishingpoint_delivery_own_renders", $"thread=\"{thread}\"");

    // Program date times are each server's own arrival times.
    private static string WithoutDates(string playlist) =>
        string.Join('\n', playlist.Split('\n').Where(l => !l.StartsWith("#EXT-X-PROGRAM-DATE-TIME", StringComparison.Ordinal)));

    /// <summary>Fragment bytes in memory and fragments indexed, summed over the point's tracks, as the operator API shows them.</summary>
    internal static async Task<(long Bytes, int Fragments)> InMemoryAsync(RunningServer server, string point = Point)
    {
        using var json = JsonDocument.Parse(await server.Http.GetStringAsync($"api/points/{point}"));
        var tracks = json.RootElement.GetProperty("tracks").EnumerateArray().ToList();
        return (tracks.Sum(t => t.GetProperty("bytesInMemory").GetInt64()), tracks.Sum(t => t.GetProperty("fragments").GetInt32()));
    }
}
