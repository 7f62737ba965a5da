using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using PublishingPoint.Server.Tests.Infrastructure;
using Xunit.Abstractions;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>
/// Low-Latency HLS (RFC 8216bis) fed by ffmpeg's low-latency CMAF push (200 ms chunks, prft wall clock) with two
/// video renditions: the playlist rules, blocking reload, delta updates, parts; then hls.js in low-latency mode in
/// Chromium, glass to glass.
/// </summary>
[Collection(LatencyMeasurements.Name)]
public sealed partial class LowLatencyHlsTests(ITestOutputHelper output)
{
    private const string Point = "ll/ch1.isml";
    private const string Hi = $"{Point}/hls/video-600000-fmp4.m3u8";

    [Fact]
    public async Task LowLatencyPlaylists_ListPartsWithinTheTarget_BlockReloads_AndSkip()
    {
        await using var server = await RunningServer.StartAsync();
        var pushes = PushAsync(server, seconds: 22);
        try
        {
            await WaitForSegmentsAsync(server, Hi, 7);
            var playlist = await server.Http.GetStringAsync(Hi);
            var control = Attributes(playlist, "#EXT-X-SERVER-CONTROL");
            var partTarget = Seconds(Attributes(playlist, "#EXT-X-PART-INF")["PART-TARGET"]);
            Assert.Equal("YES", control["CAN-BLOCK-RELOAD"]);
            Assert.InRange(partTarget, 0.15, 0.5);
            Assert.True(Seconds(control["PART-HOLD-BACK"]) >= 3 * partTarget - 0.001, playlist);
            Assert.True(Seconds(control["HOLD-BACK"]) >= 3 * HlsText.LongTag(playlist, "#EXT-X-TARGETDURATION"), playlist);
            Assert.True(Seconds(control["CAN-SKIP-UNTIL"]) >= 6 * HlsText.LongTag(playlist, "#EXT-X-TARGETDURATION"), playlist);

            var parts = HlsText.AttributeLines(playlist, "#EXT-X-PART").Select(p => p.Attributes).ToList();
            Assert.True(parts.Count >= 10, playlist);
            Assert.All(parts, p => Assert.True(Seconds(p["DURATION"]) <= partTarget, $"part {p["URI"]} of {p["DURATION"]} s over PART-TARGET {partTarget}"));
            Assert.All(parts.Where(p => p["URI"].EndsWith(".0.m4s", StringComparison.Ordinal)), p => Assert.Equal("YES", p.GetValueOrDefault("INDEPENDENT")));
            var reports = HlsText.AttributeLines(playlist, "#EXT-X-RENDITION-REPORT").Select(r => r.Attributes["URI"]).Order(StringComparer.Ordinal).ToArray();
            Assert.Equal(["audio-64000-fmp4.m3u8", "video-300000-fmp4.m3u8"], reports);

            // Blocking reload: ask for the hinted part; the answer waits for it and lists it.
            var (msn, part) = Hinted(playlist);
            var clock = Stopwatch.StartNew();
            var blocked = await server.Http.GetStringAsync($"{Hi}?_HLS_msn={msn}&_HLS_part={part}");
            output.WriteLine($"blocking reload for {msn}.{part} answered in {clock.ElapsedMilliseconds} ms");
            Assert.Contains($"video-600000/{msn}.{part}.m4s\"", blocked, StringComparison.Ordinal);
            Assert.DoesNotContain($"URI=\"video-600000/{msn}.{part}.m4s\"", HintLine(blocked), StringComparison.Ordinal);
            // Without _HLS_part: part 0 of that segment.
            var next = await server.Http.GetStringAsync($"{Hi}?_HLS_msn={msn + 1}");
            Assert.Contains($"video-600000/{msn + 1}.0.m4s\"", next, StringComparison.Ordinal);
            using (var far = await server.Http.GetAsync($"{Hi}?_HLS_msn={msn + 5}"))
            {
                Assert.Equal(HttpStatusCode.BadRequest, far.StatusCode);
            }

            // A part number past any segment's parts and the advance part limit: refused at once, not held.
            var beyond = Stopwatch.StartNew();
            using (var farPart = await server.Http.GetAsync($"{Hi}?_HLS_msn={msn + 1}&_HLS_part=1000"))
            {
                Assert.Equal(HttpStatusCode.BadRequest, farPart.StatusCode);
                Assert.True(beyond.Elapsed < TimeSpan.FromSeconds(1), $"answered after {beyond.Elapsed}");
            }

            // The hinted part itself is held until it exists, then it is the same bytes as ever after.
            var hint = Hinted(next);
            var held = await server.Http.GetByteArrayAsync($"{Point}/hls/video-600000/{hint.Msn}.{hint.Part}.m4s");
            Assert.Equal(held, await server.Http.GetByteArrayAsync($"{Point}/hls/video-600000/{hint.Msn}.{hint.Part}.m4s"));

            // A complete segment is its parts one after the other.
            var complete = HlsText.Segments(next)[^1].Uri;
            var sequence = long.Parse(complete[(complete.IndexOf('/') + 1)..complete.IndexOf('.')], CultureInfo.InvariantCulture);
            var segmentParts = HlsText.AttributeLines(next, "#EXT-X-PART").Select(p => p.Attributes["URI"]).Where(u => u.Contains($"/{sequence}.", StringComparison.Ordinal)).ToList();
            Assert.NotEmpty(segmentParts);
            var joined = new List<byte>();
            foreach (var uri in segmentParts)
            {
                joined.AddRange(await server.Http.GetByteArrayAsync($"{Point}/hls/{uri}"));
            }

            var whole = await server.Http.GetByteArrayAsync($"{Point}/hls/{complete}");
            Assert.Equal(joined.ToArray(), whole);

            // Delta update once the window is longer than CAN-SKIP-UNTIL.
            await WaitForSegmentsAsync(server, Hi, 10);
            var delta = await server.Http.GetStringAsync($"{Hi}?_HLS_skip=YES");
            var skipped = int.Parse(Attributes(delta, "#EXT-X-SKIP")["SKIPPED-SEGMENTS"], CultureInfo.InvariantCulture);
            var full = await server.Http.GetStringAsync(Hi);
            Assert.True(skipped >= 1, delta);
            Assert.Equal(HlsText.Segments(full).Count, HlsText.Segments(delta).Count + skipped);
            Assert.Equal(HlsText.LongTag(full, "#EXT-X-MEDIA-SEQUENCE"), HlsText.LongTag(delta, "#EXT-X-MEDIA-SEQUENCE"));

            // Media reads back: ffprobe decodes the low-latency playlist.
            var probe = await Tool.RunAsync("ffprobe", ["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", server.Url(Hi).ToString()]);
            Assert.True(probe.ExitCode == 0 && int.Parse(probe.StdOut.Trim().Split('\n')[0], CultureInfo.InvariantCulture) >= 150, Tool.Describe(probe));
        }
        finally
        {
            Assert.All(await pushes, p => Assert.True(p.ExitCode == 0, Tool.Describe(p)));
        }
    }

    [Fact]
    public async Task HlsJsInLowLatencyMode_PlaysParts_WithinThreeSecondsGlassToGlass()
    {
        await using var server = await RunningServer.StartAsync();
        var pushes = PushAsync(server, seconds: 30);
        var requests = new EventLineCollection();
        try
        {
            await WaitForSegmentsAsync(server, Hi, 2);
            using var playwright = await Playwright.CreateAsync();
            await using var browser = await Chromium.LaunchAsync(playwright);
            var master = server.Url($"{Point}/master-fmp4.m3u8");
            var (page, log) = await Chromium.OpenPlayerPageAsync(browser, master, "hls.min.js", Chromium.NodeModule("hls.js", "dist/hls.min.js"), Page(master));
            page.Request += (_, request) => requests.Add(request.Url);

            // Glass to glass: the wall clock now minus the capture time (prft, as EXT-X-PROGRAM-DATE-TIME) of the frame on screen.
            var latencies = new List<double>();
            var clock = Stopwatch.StartNew();
            var errors = string.Empty;
            while (clock.Elapsed < TimeSpan.FromSeconds(20) && latencies.Count < 40 && errors.Length == 0)
            {
                await Task.Delay(250);
                var sample = await page.EvaluateAsync<double>("window.latency()");
                if (sample > 0 && await page.EvaluateAsync<double>("document.getElementById('v').currentTime") > 2)
                {
                    latencies.Add(sample);
                }

                errors = await page.EvaluateAsync<string>("window.fatal.join('; ')");
            }

            latencies.Sort();
            var median = latencies.Count == 0 ? double.NaN : latencies[latencies.Count / 2];
            var describe = string.Create(CultureInfo.InvariantCulture,
                $"glass-to-glass median {median:0.00} s over {latencies.Count} samples ({(latencies.Count > 0 ? latencies[0] : 0):0.00} to {(latencies.Count > 0 ? latencies[^1] : 0):0.00}); errors [{errors}]; console:\n{string.Join('\n', log.TakeLast(20))}");
            output.WriteLine(describe);
            Assert.True(errors.Length == 0 && latencies.Count >= 20, describe);
            Assert.True(median <= 3.0, describe);
            Assert.Contains(requests, r => PartRequest().IsMatch(r));
            Assert.Contains(requests, r => r.Contains("_HLS_msn=", StringComparison.Ordinal));
        }
        finally
        {
            Assert.All(await pushes, p => Assert.True(p.ExitCode == 0, Tool.Describe(p)));
        }
    }

    /// <summary>Two renditions from two real-time ffmpeg processes (the first with the audio), low-latency CMAF.</summary>
    /// <summary>
    /// A reload held for a segment that is not coming (the encoder went quiet) is answered when the operator closes the
    /// point or deletes it (the finished playlist), not when its hold of three target durations runs out (a 503).
    /// </summary>
    [Theory]
    [InlineData("close")]
    [InlineData("delete")]
    public async Task AHeldReload_IsAnsweredWhenThePointIsClosedOrDeleted(string action)
    {
        await using var server = await RunningServer.StartAsync();
        const string Playlist = "live/held.isml/hls/video-400000-fmp4.m3u8";
        var (push, next) = await PushFourFragmentsAsync(server, "live/held.isml");
        await using var _ = push;
        Assert.Equal(0, await HeldRequestsAsync(server));
        var held = server.Http.GetAsync($"{Playlist}?_HLS_msn={next}");
        await Eventually.WaitUntilAsync(async () => await HeldRequestsAsync(server) == 1 || held.IsCompleted, "the reload was never counted as held");
        Assert.False(held.IsCompleted, "the reload was not held");

        var clock = Stopwatch.StartNew();
        using (var acted = action == "close"
            ? await server.Http.PostAsync("api/points/live/held.isml/close", JsonContent.Create(new { }))
            : await server.Http.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "api/points/live/held.isml") { Headers = { { "X-Api-Key", "none is set: proves a non-simple request" } } }))
        {
            Assert.True(acted.IsSuccessStatusCode, $"{action}: {(int)acted.StatusCode}");
        }

        using var answer = await held;
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"answered {clock.Elapsed} after the {action} (the hold is 6 s)");
        // A delete closes the point first: either way the player learns that the stream ended.
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Contains("#EXT-X-ENDLIST", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await HeldRequestsAsync(server));
    }

    /// <summary>
    /// Held requests were bounded only by connections, but one HTTP/2 connection carries 100 streams, and a proxy's
    /// connections are not counted at all (a review's finding): one client could hold any number, each woken by every
    /// part on the locks ingest takes. A client address holds at most MaxConnectionsPerAddress; past that, 503 at once.
    /// Shown here through a trusted proxy (HTTP/1.1), whose clients are counted by the address it names.
    /// </summary>
    [Fact]
    public async Task OneClientAddress_HoldsAtMostItsShareOfRequests_ThroughAProxyToo()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:MaxConnectionsPerAddress=2",
            "--PublishingPoint:TrustedProxies:0=127.0.0.1");
        const string Playlist = "live/share.isml/hls/video-400000-fmp4.m3u8";
        var (push, next) = await PushFourFragmentsAsync(server, "live/share.isml");
        await using var _ = push;
        using var proxy = new HttpClient { BaseAddress = server.BaseUrl };
        Task<HttpResponseMessage> Reload(string client) => proxy.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"{Playlist}?_HLS_msn={next}") { Headers = { { "X-Forwarded-For", client } } });

        var held = Enumerable.Range(0, 2 * 4).Select(_ => Reload("203.0.113.9")).ToArray(); // four a connection it may hold
        await Eventually.WaitUntilAsync(async () => await HeldRequestsAsync(server) == held.Length || held.Any(h => h.IsCompleted), "the reloads were never held");
        using (var third = await Reload("203.0.113.9"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, third.StatusCode);
            Assert.NotNull(third.Headers.RetryAfter);
        }

        var other = Reload("203.0.113.10");
        await Eventually.WaitUntilAsync(async () => await HeldRequestsAsync(server) == held.Length + 1 || other.IsCompleted, "another client's reload was not held");
        Assert.False(other.IsCompleted);
        Assert.All(held, h => Assert.False(h.IsCompleted));

        using (var closed = await server.Http.PostAsync("api/points/live/share.isml/close", JsonContent.Create(new { })))
        {
            Assert.True(closed.IsSuccessStatusCode);
        }

        foreach (var answer in await Task.WhenAll([.. held, other]))
        {
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            answer.Dispose();
        }

        await Eventually.WaitUntilAsync(async () => await HeldRequestsAsync(server) == 0, "the held requests were not let go");
        using var again = await Reload("203.0.113.9"); // the point is closed: answered at once, nothing held
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    /// <summary>
    /// Segments are numbered by time: after a jump in the encoder's timeline (it reconnects 10 s on, as a wall-clock stamped
    /// encoder does) the open segment's number is several past the last one, but its parts were listed anyway, and players
    /// number parts by their place: as the segment after the last. Their blocking reloads for that segment were answered
    /// at once with a playlist that did not hold it (a review's finding). Parts are listed only for the segment that
    /// follows the last listed one.
    /// </summary>
    [Fact]
    public async Task AfterAJumpInTheTimeline_PartsAreListedOnlyForTheSegmentAfterTheLast()
    {
        // 200 ms chunks, a keyframe every 2 s (10 chunks): the jump is made at the third segment's first chunk.
        var capture = await IsmvCapture.CaptureAsync(Encoder.LowLatencyCmafPushArguments, new EncoderSettings { VideoKbps = 300, AudioKbps = 0, Seconds = 8, RealTime = false });
        var (header, chunks) = Boxes.SplitFragments(capture);
        var segment = Boxes.TfdtTime(chunks[10]) - Boxes.TfdtTime(chunks[0]);
        Assert.True(segment > 0 && Boxes.TfdtTime(chunks[20]) - Boxes.TfdtTime(chunks[10]) == segment, "keyframes every 10 chunks");
        await using var server = await RunningServer.StartAsync();
        await using var push = await HeldPush.StartAsync(server.BaseUrl, "/ll/jump.isml/Streams(a)");
        await push.SendAsync(header);
        foreach (var chunk in chunks.Take(20))
        {
            await push.SendAsync(chunk);
        }

        const string Playlist = "ll/jump.isml/hls/video-300000-fmp4.m3u8";
        await WaitForSegmentsAsync(server, Playlist, 1);
        var jumped = chunks.Skip(20).Select(c => Boxes.ShiftTfdt(c, 5 * segment)).ToList(); // 10 s on
        await push.SendAsync(jumped[0]);
        await push.SendAsync(jumped[1]);
        var playlist = await EventuallyPlaylistAsync(server, Playlist, p => SequenceOf(HlsText.Segments(p)[^1].Uri) == 1);
        Assert.DoesNotContain(HlsText.AttributeLines(playlist, "#EXT-X-PART"), p => SequenceOf(p.Attributes["URI"]) > 1);
        Assert.DoesNotContain("#EXT-X-PRELOAD-HINT", playlist, StringComparison.Ordinal);

        // The segment after the last is not in the playlist: a reload that asks for it is held till it is.
        var reload = server.Http.GetAsync($"{Playlist}?_HLS_msn=2&_HLS_part=0");
        await Eventually.WaitUntilAsync(async () => await HeldRequestsAsync(server) == 1 || reload.IsCompleted, "the reload was never held");
        Assert.False(reload.IsCompleted, "a reload for a segment the playlist does not hold was answered at once");
        foreach (var chunk in jumped.Skip(2).Take(9))
        {
            await push.SendAsync(chunk); // to the next keyframe: the jumped segment completes
        }

        using var answer = await reload;
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        var after = await answer.Content.ReadAsStringAsync();
        Assert.Equal(7, SequenceOf(HlsText.Segments(after)[^1].Uri));
        Assert.All(HlsText.AttributeLines(after, "#EXT-X-PART").Select(p => SequenceOf(p.Attributes["URI"])), n => Assert.True(n <= 8));
    }

    private static async Task<string> EventuallyPlaylistAsync(RunningServer server, string playlist, Func<string, bool> condition)
    {
        var text = string.Empty;
        await Eventually.WaitUntilAsync(async () =>
        {
            text = await server.Http.GetStringAsync(playlist);
            return condition(text);
        }, $"{playlist} never came to the expected state", TimeSpan.FromSeconds(15));
        return text;
    }

    private static long SequenceOf(string uri) =>
        long.Parse(uri[(uri.LastIndexOf('/') + 1)..uri.IndexOf('.', uri.LastIndexOf('/'))], CultureInfo.InvariantCulture);

    /// <summary>A push kept open after the first four fragments of the six-second capture, and the next segment's number.</summary>
    private static async Task<(HeldPush Push, long Next)> PushFourFragmentsAsync(RunningServer server, string point)
    {
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.SixSecondsAsync());
        var push = await HeldPush.StartAsync(server.BaseUrl, $"/{point}/Streams(a)");
        await push.SendAsync(header);
        foreach (var fragment in fragments.Take(4))
        {
            await push.SendAsync(fragment);
        }

        var playlistPath = $"{point}/hls/video-400000-fmp4.m3u8";
        await WaitForSegmentsAsync(server, playlistPath, 1);
        var playlist = await server.Http.GetStringAsync(playlistPath);
        return (push, HlsText.LongTag(playlist, "#EXT-X-MEDIA-SEQUENCE") + HlsText.Segments(playlist).Count);
    }

    /// <summary>The server's gauge of requests waiting for media (/metrics, open to loopback).</summary>
    private static async Task<long> HeldRequestsAsync(RunningServer server) =>
        (long)await PrometheusText.SumAsync(server.Http, "publishingpoint_delivery_held_requests");

    /// <summary>
    /// A segment whose indexing is refused (here the point reached MaxPointDiskBytes: 507) never completes: the parts
    /// already listed for it leave the playlist, rather than staying listed (and served) until the point ends.
    /// </summary>
    [Fact]
    public async Task ARefusedSegment_TakesItsListedPartsWithIt()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:MaxPointDiskBytes=600000", "--PublishingPoint:FinalizeGraceSeconds=300");
        var push = await Encoder.PushLowLatencyCmafAsync(server.Url("ll/full.isml/Streams(a)"), new EncoderSettings { VideoKbps = 600, AudioKbps = 0, Seconds = 30 });
        Assert.NotEqual(0, push.ExitCode); // refused mid-stream
        const string Playlist = "ll/full.isml/hls/video-600000-fmp4.m3u8";
        var playlist = await server.Http.GetStringAsync(Playlist);
        var segments = HlsText.Segments(playlist);
        Assert.NotEmpty(segments);
        Assert.DoesNotContain("#EXT-X-ENDLIST", playlist, StringComparison.Ordinal); // still live: the encoder may come back
        var last = segments[^1].Uri;
        var lastSequence = long.Parse(last[(last.IndexOf('/') + 1)..last.IndexOf('.')], CultureInfo.InvariantCulture);
        var open = HlsText.AttributeLines(playlist, "#EXT-X-PART").Select(p => p.Attributes["URI"])
            .Where(u => long.Parse(u[(u.IndexOf('/') + 1)..u.IndexOf('.')], CultureInfo.InvariantCulture) > lastSequence).ToList();
        Assert.True(open.Count == 0, $"parts of a segment that will never complete are listed: {string.Join(", ", open)}\n{playlist}");
    }

    /// <summary>
    /// Segments are numbered by time over the track's segment duration, which the first segment gives: before it, the
    /// open segment's number is a guess (0), and an encoder whose clock starts later than 0 would have had the first
    /// segment's parts listed under one number and the segment under another. No part is listed before the first
    /// segment; its parts come with it.
    /// </summary>
    [Fact]
    public async Task NoPartIsListedBeforeTheFirstSegment()
    {
        await using var server = await RunningServer.StartAsync();
        var push = Encoder.PushLowLatencyCmafAsync(server.Url("ll/first.isml/Streams(a)"), new EncoderSettings { VideoKbps = 300, AudioKbps = 0, Seconds = 8 });
        const string Playlist = "ll/first.isml/hls/video-300000-fmp4.m3u8";
        var parts = new List<string>();
        var segments = new List<(double Duration, string Uri)>();
        var clock = Stopwatch.StartNew();
        var polls = 0;
        while (segments.Count == 0 && clock.Elapsed < TimeSpan.FromSeconds(40))
        {
            using var response = await server.Http.GetAsync(Playlist);
            if (response.IsSuccessStatusCode)
            {
                var playlist = await response.Content.ReadAsStringAsync();
                segments = HlsText.Segments(playlist);
                if (segments.Count == 0)
                {
                    polls++;
                    parts.AddRange(HlsText.AttributeLines(playlist, "#EXT-X-PART").Select(p => p.Attributes["URI"]));
                }
                else
                {
                    Assert.Contains(HlsText.AttributeLines(playlist, "#EXT-X-PART"), p => p.Attributes["URI"].StartsWith(segments[0].Uri[..^".m4s".Length] + ".", StringComparison.Ordinal));
                }
            }

            await Task.Delay(50);
        }

        Assert.NotEmpty(segments);
        Assert.True(polls > 0, "the playlist was never seen before its first segment");
        Assert.Empty(parts);
        Assert.True((await push).ExitCode == 0);
    }

    /// <summary>
    /// Two encoders push the same low-latency stream at once (a redundant pair on one stream id, or a reconnection
    /// while the old connection lingers), one cutting chunks of 200 ms and the other of 300: the parts listed for a
    /// segment come from one of them, in order, never both interleaved.
    /// </summary>
    [Fact]
    public async Task TwoEncodersOnOneStream_TheOpenSegmentsPartsComeFromOne_InOrder()
    {
        await using var server = await RunningServer.StartAsync();
        const string Twin = "ll/twin.isml";
        var settings = new EncoderSettings { VideoKbps = 300, AudioKbps = 0, Seconds = 14 };
        var target = server.Url($"{Twin}/Streams(twin)");
        var pushes = Task.WhenAll(
            Tool.RunAsync("ffmpeg", Encoder.LowLatencyCmafPushArguments(target, settings), TimeSpan.FromSeconds(80)),
            Tool.RunAsync("ffmpeg", Encoder.LowLatencyCmafPushArguments(target, settings).Select(a => a == "200000" ? "300000" : a), TimeSpan.FromSeconds(80)));
        try
        {
            const string Playlist = $"{Twin}/hls/video-300000-fmp4.m3u8";
            await WaitForSegmentsAsync(server, Playlist, 2);
            var checkedParts = 0;
            for (var round = 0; round < 12; round++)
            {
                var playlist = await server.Http.GetStringAsync(Playlist);
                var parts = HlsText.AttributeLines(playlist, "#EXT-X-PART").Select(p => p.Attributes["URI"]).ToList();
                foreach (var segment in parts.GroupBy(u => u[..u.LastIndexOf('.', u.Length - 5)], StringComparer.Ordinal))
                {
                    var times = new List<long>();
                    foreach (var uri in segment)
                    {
                        using var part = await server.Http.GetAsync($"{Twin}/hls/{uri}");
                        if (part.StatusCode == HttpStatusCode.NotFound)
                        {
                            continue; // left the window meanwhile
                        }

                        times.Add(Boxes.TfdtTime(await part.Content.ReadAsByteArrayAsync()));
                    }

                    checkedParts += times.Count;
                    Assert.True(times.Zip(times.Skip(1)).All(t => t.Second > t.First), $"segment {segment.Key}: parts start at {string.Join(", ", times)}\n{playlist}");
                }

                await Task.Delay(400);
            }

            Assert.True(checkedParts >= 30, $"only {checkedParts} parts checked");
        }
        finally
        {
            Assert.All(await pushes, p => Assert.True(p.ExitCode == 0, Tool.Describe(p)));
        }
    }

    private static Task<ToolResult[]> PushAsync(RunningServer server, int seconds) => Task.WhenAll(
        Encoder.PushLowLatencyCmafAsync(server.Url($"{Point}/Streams(hi)"), new EncoderSettings { VideoKbps = 600, Width = 640, Height = 360, Seconds = seconds }),
        Encoder.PushLowLatencyCmafAsync(server.Url($"{Point}/Streams(lo)"), new EncoderSettings { VideoKbps = 300, AudioKbps = 0, Seconds = seconds }));

    private static string Page(Uri master) => HlsJsPage.Html(master, "{ lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5, backBufferLength: 10 }",
        "window.latency = () => hls.playingDate ? (Date.now() - hls.playingDate.getTime()) / 1000 : 0;");

    private static async Task WaitForSegmentsAsync(RunningServer server, string playlist, int count) =>
        await Eventually.WaitUntilAsync(async () =>
        {
            using var response = await server.Http.GetAsync(playlist);
            return response.IsSuccessStatusCode && HlsText.Segments(await response.Content.ReadAsStringAsync()).Count >= count;
        }, $"{playlist} never listed {count} segments", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(250));

    private static Dictionary<string, string> Attributes(string playlist, string tag) =>
        HlsText.AttributeLines(playlist, tag).FirstOrDefault().Attributes ?? throw new InvalidDataException($"no {tag}:\n{playlist}");

    private static string HintLine(string playlist) => HlsText.Lines(playlist).Single(l => l.StartsWith("#EXT-X-PRELOAD-HINT:", StringComparison.Ordinal));

    private static (long Msn, int Part) Hinted(string playlist)
    {
        var match = HintUri().Match(HintLine(playlist));
        return (long.Parse(match.Groups[1].ValueSpan, CultureInfo.InvariantCulture), int.Parse(match.Groups[2].ValueSpan, CultureInfo.InvariantCulture));
    }

    private static double Seconds(string value) => double.Parse(value, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"/(\d+)\.(\d+)\.m4s""")]
    private static partial Regex HintUri();

    [GeneratedRegex(@"/\d+\.\d+\.m4s(\?|$)")]
    private static partial Regex PartRequest();
}
