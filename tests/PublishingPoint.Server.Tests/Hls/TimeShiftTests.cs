using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Xml.Linq;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>Start-over and time-shift through query parameters on Smooth, HLS and DASH.</summary>
public sealed class TimeShiftTests
{
    [Fact]
    public async Task StartEndAndStartOver_SelectTheSameSegmentsInEveryFormat()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=3600");
        var capture = await IsmvCapture.MakeAsync(30, 400, 64);
        var withoutEnd = capture[..Boxes.TopLevel(capture).Single(b => b.Type == "mfra").Offset];
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/shift.isml/Streams(a)", withoutEnd)).Status);
        var point = await server.Http.GetFromJsonAsync<JsonElement>("api/points/live/shift.isml");
        var anchor = point.GetProperty("timelineAnchor").GetDateTimeOffset();
        string At(double seconds) => anchor.AddSeconds(seconds).ToString("O", CultureInfo.InvariantCulture);
        var unixAt20 = (anchor.AddSeconds(20).ToUnixTimeMilliseconds() / 1000.0).ToString(CultureInfo.InvariantCulture);

        // A window in the past: media 10 s to 20 s, closed.
        var hls = await server.Http.GetStringAsync($"live/shift.isml/hls/video-400000.m3u8?start={Uri.EscapeDataString(At(10))}&end={unixAt20}");
        Assert.Equal(5, HlsText.LongTag(hls, "#EXT-X-MEDIA-SEQUENCE"));
        Assert.Equal(5, HlsText.Segments(hls).Count);
        Assert.Contains("#EXT-X-ENDLIST", hls, StringComparison.Ordinal);
        Assert.EndsWith("/5.ts", HlsText.Segments(hls)[0].Uri, StringComparison.Ordinal);

        var smooth = await SmoothManifestView.FetchAsync(server.Http, $"live/shift.isml/Manifest?start={Uri.EscapeDataString(At(10))}&end={unixAt20}");
        Assert.False(smooth.IsLive);
        Assert.Equal([100_000_000L, 120_000_000L, 140_000_000L, 160_000_000L, 180_000_000L], smooth.ChunkTimes("video"));

        var mpd = XDocument.Parse(await server.Http.GetStringAsync($"live/shift.isml/manifest.mpd?end={unixAt20}"));
        XNamespace ns = "urn:mpeg:dash:schema:mpd:2011";
        Assert.Equal("static", (string?)mpd.Root!.Attribute("type") ?? "static");
        var video = mpd.Descendants(ns + "AdaptationSet").First(a => (string?)a.Attribute("contentType") == "video");
        var segments = video.Descendants(ns + "S").Sum(s => 1 + ((int?)s.Attribute("r") ?? 0));
        Assert.Equal(10, segments);

        // Start-over: from 24 s to the live edge, still live.
        var startOver = await server.Http.GetStringAsync($"live/shift.isml/hls/video-400000.m3u8?start={Uri.EscapeDataString(At(24))}");
        Assert.Equal(12, HlsText.LongTag(startOver, "#EXT-X-MEDIA-SEQUENCE"));
        Assert.DoesNotContain("#EXT-X-ENDLIST", startOver, StringComparison.Ordinal);
        var whole = await server.Http.GetStringAsync("live/shift.isml/hls/video-400000.m3u8");
        Assert.Equal(HlsText.Segments(whole)[^1].Uri, HlsText.Segments(startOver)[^1].Uri);

        // A shifted master hands its query to the media playlists.
        var master = await server.Http.GetStringAsync($"live/shift.isml/master.m3u8?start={unixAt20}");
        Assert.Contains($".m3u8?start={unixAt20}", master, StringComparison.Ordinal);
        // Its I-frame playlists too (they were listed unshifted, and without a CDN's token).
        var iFrames = master.Split('\n').Where(l => l.StartsWith("#EXT-X-I-FRAME-STREAM-INF:", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(iFrames);
        Assert.All(iFrames, l => Assert.Contains($"-iframes.m3u8?start={unixAt20}\"", l, StringComparison.Ordinal));

        // A query is echoed into URI attributes: a raw '"' (sent as is, which HttpClient would not) cannot close one and add
        // attributes of the client's choosing.
        using (var raw = new System.Net.Sockets.TcpClient())
        {
            await raw.ConnectAsync(IPAddress.Loopback, server.BaseUrl.Port);
            var stream = raw.GetStream();
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"GET /live/shift.isml/master.m3u8?start={unixAt20}&x=\",URI=\"https://evil.example/a.m3u8 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
            var answer = await new StreamReader(stream).ReadToEndAsync();
            Assert.Contains(" 200 ", answer.Split('\n')[0], StringComparison.Ordinal);
            Assert.DoesNotContain("x=\",URI=\"", answer, StringComparison.Ordinal);
            Assert.Contains($"-iframes.m3u8?start={unixAt20}&x=%22,URI=%22https://evil.example/a.m3u8\"", answer, StringComparison.Ordinal);
        }

        using var bad = await server.Http.GetAsync("live/shift.isml/master.m3u8?start=yesterday");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        using var backwards = await server.Http.GetAsync($"live/shift.isml/Manifest?start={unixAt20}&end={Uri.EscapeDataString(At(10))}");
        Assert.Equal(HttpStatusCode.BadRequest, backwards.StatusCode);
        foreach (var delay in new[] { "NaN", "Infinity", "-1", "1e9" })
        {
            // NaN passed the range check (every comparison with it is false) and made a shifted answer, rendered uncached.
            using var notADelay = await server.Http.GetAsync($"live/shift.isml/hls/video-400000.m3u8?delay={delay}");
            Assert.True(notADelay.StatusCode == HttpStatusCode.BadRequest, $"delay={delay}: {notADelay.StatusCode}");
        }
    }

    [Fact]
    public async Task ShiftedAnswers_AreRenderedOnThePool_NotOnThePlayersEventThread()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=3600");
        var capture = await IsmvCapture.MakeAsync(20, 400, 64);
        var withoutEnd = capture[..Boxes.TopLevel(capture).Single(b => b.Type == "mfra").Offset];
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/thread.isml/Streams(a)", withoutEnd)).Status);
        var anchor = (await server.Http.GetFromJsonAsync<JsonElement>("api/points/live/thread.isml")).GetProperty("timelineAnchor").GetDateTimeOffset();

        // /metrics and the API take their connection off the event loop for good: the player's own stays on it.
        using var player = new HttpClient { BaseAddress = server.Http.BaseAddress };
        var onPool = await PrometheusText.SumAsync(server.Http, "publishingpoint_delivery_shifted_renders", "thread=\"pool\"");
        string[] shifted = ["master.m3u8", "hls/video-400000.m3u8", "Manifest", "manifest.mpd"];
        foreach (var resource in shifted)
        {
            var at = Uri.EscapeDataString(anchor.AddSeconds(4).ToString("O", CultureInfo.InvariantCulture));
            using var answer = await player.GetAsync($"live/thread.isml/{resource}?start={at}");
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }

        Assert.Equal(0, await PrometheusText.SumAsync(server.Http, "publishingpoint_delivery_shifted_renders", "thread=\"event\""));
        Assert.Equal(onPool + shifted.Length, await PrometheusText.SumAsync(server.Http, "publishingpoint_delivery_shifted_renders", "thread=\"pool\""));
    }

    [Fact]
    public async Task AStartOverCrowd_CostsOneRenderPerVersion_ADelayedOneEveryHalfSegment()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=3600");
        var capture = await IsmvCapture.MakeAsync(20, 400, 64);
        var withoutEnd = capture[..Boxes.TopLevel(capture).Single(b => b.Type == "mfra").Offset];
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/crowd.isml/Streams(a)", withoutEnd)).Status);
        var point = await server.Http.GetFromJsonAsync<JsonElement>("api/points/live/crowd.isml");
        var anchor = point.GetProperty("timelineAnchor").GetDateTimeOffset();
        var start = Uri.EscapeDataString(anchor.AddSeconds(4).ToString("O", CultureInfo.InvariantCulture));
        var before = await RendersAsync(server);

        // Forty viewers of one start-over link, the first alone, then the others twenty at a time: one render, the same
        // bytes for all.
        List<string> answers = [await server.Http.GetStringAsync($"live/crowd.isml/hls/video-400000.m3u8?start={start}")];
        for (var round = 0; round < 2; round++)
        {
            answers.AddRange(await Task.WhenAll(Enumerable.Range(0, round == 0 ? 19 : 20).Select(_ => server.Http.GetStringAsync($"live/crowd.isml/hls/video-400000.m3u8?start={start}"))));
        }

        Assert.Single(answers.Distinct());
        Assert.StartsWith("#EXTM3U", answers[0], StringComparison.Ordinal);
        Assert.Equal(before + 1, await RendersAsync(server));

        // Another start is another render.
        var other = await server.Http.GetStringAsync($"live/crowd.isml/hls/video-400000.m3u8?start={Uri.EscapeDataString(anchor.AddSeconds(8).ToString("O", CultureInfo.InvariantCulture))}");
        Assert.NotEqual(answers[0], other);
        Assert.Equal(before + 2, await RendersAsync(server));

        // A delay moves the edge with the clock: its answer is kept for half a segment (1 s here), then made again.
        for (var i = 0; i < 10; i++)
        {
            await server.Http.GetStringAsync("live/crowd.isml/hls/video-400000.m3u8?delay=6");
        }

        var delayed = await RendersAsync(server);
        Assert.InRange(delayed - before, 3, 4);
        // Asked again every 100 ms: the next half segment's first answer is made, and only that one.
        await Eventually.WaitUntilAsync(async () =>
        {
            await server.Http.GetStringAsync("live/crowd.isml/hls/video-400000.m3u8?delay=6");
            return await RendersAsync(server) > delayed;
        }, "a delayed answer was never made again", TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(100));
        Assert.Equal(delayed + 1, await RendersAsync(server));

        // Parameters a render does not read (a CDN's token per viewer, a cache buster) share the start-over answer made
        // above; a master, which passes its query on to the playlists it lists, is made for each query and lists it.
        var shared = await RendersAsync(server);
        foreach (var junk in new[] { "&token=abc", "&token=def&_=1733400000" })
        {
            Assert.Equal(answers[0], await server.Http.GetStringAsync($"live/crowd.isml/hls/video-400000.m3u8?start={start}{junk}"));
        }

        Assert.Equal(shared, await RendersAsync(server));
        foreach (var token in new[] { "abc", "def" })
        {
            var master = await server.Http.GetStringAsync($"live/crowd.isml/master.m3u8?start={start}&token={token}");
            Assert.Contains($".m3u8?start={start}&token={token}", master, StringComparison.Ordinal);
        }

        Assert.Equal(shared + 2, await RendersAsync(server));

        // One instant written two ways (Unix seconds, ISO 8601) is one start: one render.
        var instant = DateTimeOffset.FromUnixTimeSeconds(anchor.ToUnixTimeSeconds() + 6);
        var asUnix = await server.Http.GetStringAsync($"live/crowd.isml/hls/video-400000.m3u8?start={instant.ToUnixTimeSeconds()}");
        var asIso = await server.Http.GetStringAsync($"live/crowd.isml/hls/video-400000.m3u8?start={Uri.EscapeDataString(instant.ToString("O", CultureInfo.InvariantCulture))}");
        Assert.Equal(asUnix, asIso);
        Assert.Equal(shared + 3, await RendersAsync(server));
    }

    [Theory]
    [InlineData("?start=1700000000&token=a%2Fb~c", "?start=1700000000&token=a%2Fb~c")]
    [InlineData("?start=1&x=\"<é>", "?start=1&x=%22%3C%C3%A9%3E")]
    [InlineData("", "")]
    public void AnEchoedQuery_KeepsWhatURIsAreMadeOf_AndEncodesTheRest(string query, string echoed) =>
        Assert.Equal(echoed, PublishingPoint.Server.Delivery.Hls.HlsDelivery.QueryForUris(query));

    private static async Task<long> RendersAsync(RunningServer server) =>
        (long)await PrometheusText.SumAsync(server.Http, "publishingpoint_delivery_shifted_renders");

    /// <summary>
    /// A delay's live edge is measured on the server's clock (its TimeProvider, which also fixed the point's anchor) in
    /// every output: a fake clock set apart from the machine's moves the edge of HLS, Smooth and DASH alike.
    /// </summary>
    [Fact]
    public async Task ADelayIsMeasuredOnTheServersClock_InEveryOutput()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow.AddDays(-1));
        await using var server = await RunningServer.StartWithClockAsync(clock, "--PublishingPoint:FinalizeGraceSeconds=3600");
        var capture = await IsmvCapture.MakeAsync(30, 400, 64);
        var withoutEnd = capture[..Boxes.TopLevel(capture).Single(b => b.Type == "mfra").Offset];
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/clock.isml/Streams(a)", withoutEnd)).Status);

        // The first fragment (media 0 to 2 s) arrived at the clock's time: 20 s later on that clock, a 10 s delay's edge
        // is media 12 s: six 2 s segments, whatever the machine's clock says.
        clock.Advance(TimeSpan.FromSeconds(20));
        var hls = HlsText.Segments(await server.Http.GetStringAsync("live/clock.isml/hls/video-400000.m3u8?delay=10"));
        Assert.EndsWith("/5.ts", hls[^1].Uri, StringComparison.Ordinal);
        var smooth = await SmoothManifestView.FetchAsync(server.Http, "live/clock.isml/Manifest?delay=10");
        Assert.Equal(100_000_000L, smooth.ChunkTimes("video")[^1]);
        var mpd = XDocument.Parse(await server.Http.GetStringAsync("live/clock.isml/manifest.mpd?delay=10"));
        XNamespace ns = "urn:mpeg:dash:schema:mpd:2011";
        var video = mpd.Descendants(ns + "AdaptationSet").First(a => (string?)a.Attribute("contentType") == "video");
        Assert.Equal(6, video.Descendants(ns + "S").Sum(s => 1 + ((int?)s.Attribute("r") ?? 0)));

        // Four more seconds on the server's clock: two more segments in each.
        clock.Advance(TimeSpan.FromSeconds(4));
        hls = HlsText.Segments(await server.Http.GetStringAsync("live/clock.isml/hls/video-400000.m3u8?delay=10"));
        Assert.EndsWith("/7.ts", hls[^1].Uri, StringComparison.Ordinal);
        smooth = await SmoothManifestView.FetchAsync(server.Http, "live/clock.isml/Manifest?delay=10");
        Assert.Equal(140_000_000L, smooth.ChunkTimes("video")[^1]);
    }
    /// <summary>
    /// A delayed answer moves with the clock while the point's version stands still (between fragments, or with its
    /// encoder gone), and its entity tag was made from the version, the query and the length: a window that gained a
    /// segment and lost one kept its length, so a revalidating cache or player got 304 and kept the old list (a
    /// review's finding). The tag of a delayed answer follows its content.
    /// </summary>
    [Fact]
    public async Task ADelayedAnswerThatMovedWithTheClock_IsNotNotModified()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow.AddDays(-1));
        await using var server = await LiveOnAClockAsync(clock, "live/etag.isml", 14);
        clock.Advance(TimeSpan.FromSeconds(20));
        string[] resources = ["live/etag.isml/hls/video-400000.m3u8?delay=4", "live/etag.isml/manifest.mpd?delay=4", "live/etag.isml/Manifest?delay=4"];
        var before = new Dictionary<string, (string ETag, string Body)>();
        foreach (var resource in resources)
        {
            using var first = await server.Http.GetAsync(resource);
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            before[resource] = (first.Headers.ETag!.Tag, await first.Content.ReadAsStringAsync());
        }

        clock.Advance(TimeSpan.FromSeconds(2)); // the delayed edge moves a segment on; nothing was ingested
        foreach (var resource in resources)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, resource);
            request.Headers.IfNoneMatch.Add(new System.Net.Http.Headers.EntityTagHeaderValue(before[resource].ETag));
            using var again = await server.Http.SendAsync(request);
            Assert.True(again.StatusCode == HttpStatusCode.OK, $"{resource}: {again.StatusCode} for a list that moved on");
            Assert.NotEqual(before[resource].Body, await again.Content.ReadAsStringAsync());
        }
    }
    /// <summary>
    /// A delayed link (an event replayed an hour later for another time zone) was cut off when the event ended: the
    /// point turned VOD and the delayed answer became a VOD list ending at the delayed edge (EXT-X-ENDLIST, a static
    /// MPD, no IsLive, cached for an hour), so its viewers lost the last delay's worth (a review's finding). It stays
    /// live until its edge reaches the end of the media, then lists everything and ends.
    /// </summary>
    [Fact]
    public async Task ADelayedLink_PlaysAnEndedEventToItsEnd()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow.AddDays(-1));
        await using var server = await RunningServer.StartWithClockAsync(clock);
        var capture = await IsmvCapture.MakeAsync(30, 400, 64);
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/tape.isml/Streams(a)", capture)).Status);
        await Eventually.WaitUntilAsync(async () => (await server.Http.GetStringAsync("live/tape.isml/hls/video-400000.m3u8")).Contains("#EXT-X-ENDLIST", StringComparison.Ordinal),
            "the event never ended");

        // 20 s after its first fragment on the server's clock, a 10 s delay shows media 0 to 12 s (six segments), live.
        clock.Advance(TimeSpan.FromSeconds(20));
        using (var hls = await server.Http.GetAsync("live/tape.isml/hls/video-400000.m3u8?delay=10"))
        {
            var text = await hls.Content.ReadAsStringAsync();
            Assert.DoesNotContain("#EXT-X-ENDLIST", text, StringComparison.Ordinal);
            Assert.EndsWith("/5.ts", HlsText.Segments(text)[^1].Uri, StringComparison.Ordinal);
            Assert.True(hls.Headers.CacheControl?.MaxAge < TimeSpan.FromSeconds(60), $"{hls.Headers.CacheControl}");
        }

        Assert.Contains("type=\"dynamic\"", await server.Http.GetStringAsync("live/tape.isml/manifest.mpd?delay=10"), StringComparison.Ordinal);
        Assert.Contains("IsLive=\"TRUE\"", await server.Http.GetStringAsync("live/tape.isml/Manifest?delay=10"), StringComparison.OrdinalIgnoreCase);

        // Once its edge is past the end: every segment, and the end.
        clock.Advance(TimeSpan.FromSeconds(25));
        var ended = await server.Http.GetStringAsync("live/tape.isml/hls/video-400000.m3u8?delay=10");
        Assert.Contains("#EXT-X-ENDLIST", ended, StringComparison.Ordinal);
        Assert.Equal(15, HlsText.Segments(ended).Count);
        Assert.Contains("type=\"static\"", await server.Http.GetStringAsync("live/tape.isml/manifest.mpd?delay=10"), StringComparison.Ordinal);
    }
    /// <summary>
    /// A shifted live MPD kept the live one's clock (a review's finding): a start-over's timeShiftBufferDepth was the DVR
    /// window, so dash.js could not seek to its beginning; a delayed one's availabilityStartTime was the real one, so the
    /// player aimed a little behind real time, past the last segment the MPD lists. The start-over's buffer reaches its
    /// first segment, and a delay moves the availability start by the delay.
    /// </summary>
    [Fact]
    public async Task AShiftedLiveMpd_ReachesItsFirstSegment_AndADelayMovesItsAvailability()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow.AddDays(-1));
        await using var server = await LiveOnAClockAsync(clock, "live/mpdclock.isml", 10);
        clock.Advance(TimeSpan.FromSeconds(30));
        XNamespace ns = "urn:mpeg:dash:schema:mpd:2011";
        async Task<XElement> MpdAsync(string query) => XDocument.Parse(await server.Http.GetStringAsync("live/mpdclock.isml/manifest.mpd" + query)).Root!;
        var live = await MpdAsync(string.Empty);
        var start = DateTimeOffset.Parse((string)live.Attribute("availabilityStartTime")!, CultureInfo.InvariantCulture);

        var over = await MpdAsync("?start=" + start.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        Assert.Equal("dynamic", (string?)over.Attribute("type"));
        var video = over.Descendants(ns + "AdaptationSet").First(a => (string?)a.Attribute("contentType") == "video");
        var template = video.Descendants(ns + "SegmentTemplate").First();
        var listed = video.Descendants(ns + "S").Sum(s => (1 + ((long?)s.Attribute("r") ?? 0)) * (long)s.Attribute("d")!) / (double)(long)template.Attribute("timescale")!;
        var depth = System.Xml.XmlConvert.ToTimeSpan((string)over.Attribute("timeShiftBufferDepth")!).TotalSeconds;
        Assert.True(listed > 20 && depth >= listed, $"a start-over listing {listed} s has a buffer of {depth} s");

        // Smooth the same: a start-over's DVR window covers what it lists.
        var smooth = XDocument.Parse(await server.Http.GetStringAsync("live/mpdclock.isml/Manifest?start=" + start.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture))).Root!;
        var dvr = (long)smooth.Attribute("DVRWindowLength")! / 10_000_000.0;
        Assert.True(dvr >= listed, $"a Smooth start-over listing {listed} s has a DVR window of {dvr} s");

        var delayed = await MpdAsync("?delay=10");
        var delayedStart = DateTimeOffset.Parse((string)delayed.Attribute("availabilityStartTime")!, CultureInfo.InvariantCulture);
        Assert.Equal(TimeSpan.FromSeconds(10), delayedStart - start);
    }
    /// <summary>A server on <paramref name="clock"/> with 30 s of a still live push on <paramref name="point"/> (all of it at the clock's time).</summary>
    private static async Task<RunningServer> LiveOnAClockAsync(Microsoft.Extensions.Time.Testing.FakeTimeProvider clock, string point, int windowSeconds)
    {
        var server = await RunningServer.StartWithClockAsync(clock, "--PublishingPoint:FinalizeGraceSeconds=3600", $"--PublishingPoint:DvrWindowSeconds={windowSeconds}");
        var (status, body) = await Posting.PostChunkedAsync(server.Http, $"{point}/Streams(a)", IsmvCapture.WithoutEnd(await IsmvCapture.MakeAsync(30, 400, 64)));
        Assert.True(status == HttpStatusCode.OK, body);
        return server;
    }
}
