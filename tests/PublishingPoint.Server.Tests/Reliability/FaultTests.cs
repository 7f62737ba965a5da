using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using PublishingPoint.Benchmarks.Live;
using PublishingPoint.Server.Tests.Hls;
using PublishingPoint.Server.Points;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Reliability;

/// <summary>Faults from outside: a cut connection, a killed process, a full disk, players during finalisation.</summary>
public sealed class FaultTests
{
    [Fact]
    public async Task ConnectionCutInsideAnMdat_DropsThePartialFragment_AndAReconnectContinuesThePoint()
    {
        var log = new LogCapture();
        await using var server = await RunningServer.StartAsync(null, services => services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(log));
        var capture = await IsmvCapture.SixSecondsAsync();
        var boxes = Boxes.TopLevel(capture);
        var header = capture[..boxes.First(b => b.Type == "moof").Offset];
        var moofs = boxes.Where(b => b.Type == "moof").ToList();
        var mdats = boxes.Where(b => b.Type == "mdat").ToList();
        var cut = mdats[3].Offset + (mdats[3].Size / 2);
        var registry = server.Services.GetRequiredService<PointRegistry>();
        Assert.True(PointPath.TryParse("live/cut.isml", out var path, out _));

        // A raw chunked POST, the socket closed (RST) in the middle of the fourth fragment's mdat.
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(server.BaseUrl.Host, server.BaseUrl.Port);
            var stream = tcp.GetStream();
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes("POST /live/cut.isml/Streams(enc1) HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"));
            for (var at = 0; at < cut; at += 8192)
            {
                var length = Math.Min(8192, cut - at);
                await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(length.ToString("X", CultureInfo.InvariantCulture) + "\r\n"));
                await stream.WriteAsync(capture.AsMemory(at, length));
                await stream.WriteAsync("\r\n"u8.ToArray());
            }

            await stream.FlushAsync();

            // The reset comes once the server has the three whole fragments (what it has not read when the reset comes is gone).
            await WaitForAsync(() => registry.Find(path) is { } p && p.Tracks().Sum(t => t.Count) == 3 ? p : null, "the three whole fragments to be indexed");
            tcp.Client.LingerState = new LingerOption(true, 0);
        }

        var point = await WaitForAsync(() => registry.Find(path) is { State: PointState.Vod } p ? p : null, "the cut push to be finalised");
        Assert.Equal(3, point.Tracks().Sum(t => t.Count));

        // A client's reset is a lost connection, not the archive's failure (an error with a stack before: the reset is an IOException).
        Assert.DoesNotContain(log.Entries, e => e.Message.Contains("archive write failed", StringComparison.Ordinal));
        var archive = Path.Combine(server.DataPath, "live", "cut.isml", "enc1.ismv");
        Assert.Equal(3, Boxes.TopLevel(await File.ReadAllBytesAsync(archive)).Count(b => b.Type == "moof"));
        var before = await SmoothManifestView.FetchAsync(server.Http, "live/cut.isml/Manifest");

        // The encoder reconnects with the same stream id: header again, then the fragments after the lost one.
        var (status, body) = await Posting.PostChunkedAsync(server.Http, "live/cut.isml/Streams(enc1)", [.. header, .. capture.AsSpan(moofs[4].Offset)]);
        Assert.True(status == HttpStatusCode.OK, body);
        var after = await SmoothManifestView.FetchVodAsync(server.Http, "live/cut.isml/Manifest");
        Assert.Equal(moofs.Count - 1, after.ChunkTimes("video").Length + after.ChunkTimes("audio").Length);
        foreach (var type in new[] { "video", "audio" })
        {
            Assert.Equal(before.ChunkTimes(type), after.ChunkTimes(type)[..before.ChunkTimes(type).Length]);
        }

        // The track that lost a fragment has a gap there, flagged on the first fragment after it; the other has none.
        var fragments = point.Tracks().ToDictionary(t => t.Key.Name, t => t.Snapshot());
        var gapped = fragments.Single(f => f.Value.Length == 2).Value;
        Assert.True(gapped[1].Discontinuity);
        Assert.All(fragments.Single(f => f.Value.Length == 3).Value, f => Assert.False(f.Discontinuity));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(archive)!, "*.ismv"));
    }

    [Fact]
    public async Task ServerKilledMidPush_RestartsWithTheAcknowledgedArchive_AndTheEncoderContinues()
    {
        var data = TempDirectory.Create("pp-kill");
        var port = LiveServer.FreePort();
        long[] acknowledgedVideo, acknowledgedAudio;
        await using (var first = await LiveServer.StartAsync(["--PublishingPoint:FinalizeGraceSeconds=0"], CancellationToken.None, dataPath: data, port: port))
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var settings = new EncoderSettings { Seconds = 30, GopSeconds = 1, RealTime = true };
            var push = Encoder.PushSmoothAsync(new Uri(first.BaseUrl, "live/kill.isml/Streams(enc1)"), settings, stop.Token);
            try
            {
                var manifest = await WaitForAsync(async () =>
                {
                    using var response = await first.Http.GetAsync("live/kill.isml/Manifest");
                    if (!response.IsSuccessStatusCode)
                    {
                        return null;
                    }

                    var view = await SmoothManifestView.FetchAsync(first.Http, "live/kill.isml/Manifest");
                    return view.ChunkTimes("video").Length >= 4 ? view : null;
                }, "four acknowledged video fragments");
                acknowledgedVideo = manifest.ChunkTimes("video");
                acknowledgedAudio = manifest.ChunkTimes("audio");
                first.KillHard();
            }
            finally
            {
                await stop.CancelAsync();
                try
                {
                    await push;
                }
                catch (Exception e) when (e is TimeoutException or OperationCanceledException)
                {
                    // ffmpeg killed with its cancelled push
                }
            }
        }

        await using var second = await LiveServer.StartAsync(["--PublishingPoint:FinalizeGraceSeconds=0"], CancellationToken.None, dataPath: data, port: port);
        var recovered = await SmoothManifestView.FetchAsync(second.Http, "live/kill.isml/Manifest");
        Assert.False(recovered.IsLive);
        Assert.Equal(acknowledgedVideo, recovered.ChunkTimes("video")[..acknowledgedVideo.Length]);
        Assert.Equal(acknowledgedAudio, recovered.ChunkTimes("audio")[..acknowledgedAudio.Length]);

        // Every recovered fragment is served, and init + fragments decode.
        var folder = TempDirectory.Create("pp-kill-decode");
        foreach (var (type, bitrate) in new[] { ("video", 400000), ("audio", 64000) })
        {
            var file = Path.Combine(folder, type + ".mp4");
            await using (var output = File.Create(file))
            {
                await output.WriteAsync(await second.Http.GetByteArrayAsync($"live/kill.isml/QualityLevels({bitrate})/Init({type})"));
                foreach (var time in recovered.ChunkTimes(type))
                {
                    using var response = await second.Http.GetAsync(recovered.Url(type, bitrate, time));
                    Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                    await output.WriteAsync(await response.Content.ReadAsByteArrayAsync());
                }
            }

            var probe = await Tool.RunAsync("ffprobe", ["-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", file], TimeSpan.FromSeconds(60));
            Assert.True(probe.ExitCode == 0 && probe.StdErr.Length == 0, Tool.Describe(probe));
            var frames = int.Parse(probe.StdOut.Trim(), CultureInfo.InvariantCulture);
            var perFragment = type == "video" ? 25 : 40; // 25 fps; ~46.9 AAC frames a second
            Assert.True(frames >= recovered.ChunkTimes(type).Length * perFragment * 0.8, $"{type}: {frames} frames for {recovered.ChunkTimes(type).Length} fragments");
        }

        // The encoder comes back (its clock moved on by a few seconds) and the point continues after the recovered part.
        var resumeAt = ((recovered.ChunkTimes("video")[^1] + recovered.ChunkDurations("video")[^1]) / 10_000_000.0) + 3;
        var arguments = Encoder.SmoothPushArguments(new Uri(second.BaseUrl, "live/kill.isml/Streams(enc1)"),
            new EncoderSettings { Seconds = 3, GopSeconds = 1, RealTime = false }).ToList();
        arguments.InsertRange(arguments.IndexOf("-movflags"), ["-output_ts_offset", resumeAt.ToString("0.###", CultureInfo.InvariantCulture)]);
        var again = await Tool.RunAsync("ffmpeg", arguments, TimeSpan.FromSeconds(60));
        Assert.True(again.ExitCode == 0, Tool.Describe(again));
        var continued = await SmoothManifestView.FetchVodAsync(second.Http, "live/kill.isml/Manifest");
        var video = continued.ChunkTimes("video");
        Assert.True(video.Length >= recovered.ChunkTimes("video").Length + 3, $"{video.Length} video fragments after the reconnect");
        Assert.Equal(recovered.ChunkTimes("video"), video[..recovered.ChunkTimes("video").Length]);
        // (The reconnect after a restart writes a second archive file next to the recovered one: both are the point.)
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(data, "live", "kill.isml"), "*.ismv"));
    }

    [Fact]
    public async Task DiskUnderMinFreeDiskBytes_RefusesIngestWith507_AndKeepsServingWhatItHas()
    {
        var data = TempDirectory.Create("pp-low-disk");
        var capture = await IsmvCapture.SixSecondsAsync();
        await using (var server = await RunningServer.StartAsync(data))
        {
            var (ok, text) = await Posting.PostChunkedAsync(server.Http, "live/before.isml/Streams(enc1)", capture);
            Assert.True(ok == HttpStatusCode.OK, text);
        }

        // The same disk, but the server wants more free than any disk has: nothing more is archived.
        await using var low = await RunningServer.StartAsync(data, "--PublishingPoint:MinFreeDiskBytes=" + long.MaxValue.ToString(CultureInfo.InvariantCulture));
        var (status, refused) = await Posting.PostChunkedAsync(low.Http, "live/after.isml/Streams(enc1)", capture);
        Assert.Equal(HttpStatusCode.InsufficientStorage, status);
        Assert.Contains("MinFreeDiskBytes", refused, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(data, "live", "after.isml", "enc1.ismv")) && new FileInfo(Path.Combine(data, "live", "after.isml", "enc1.ismv")).Length > 4096);
        var manifest = await SmoothManifestView.FetchVodAsync(low.Http, "live/before.isml/Manifest");
        Assert.Equal(3, manifest.ChunkTimes("video").Length);
    }

    /// <summary>
    /// A real full disk: a 3 MB tmpfs mounted for the test (CI and developers run as root on this kind of
    /// machine; the test fails if it cannot mount rather than pass without checking). Unmounted in finally,
    /// lazily if a handle is still open.
    /// </summary>
    [Fact]
    public async Task DiskFull_IngestGets507_WhatIsArchivedKeepsServing_AndSurvivesARestart()
    {
        var mountPoint = TempDirectory.Create("pp-full");
        var mount = await Tool.RunAsync("mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", mountPoint], TimeSpan.FromSeconds(10));
        Assert.True(mount.ExitCode == 0, "the disk-full test needs to mount a tmpfs (run as root): " + Tool.Describe(mount));

        try
        {
            var small = await IsmvCapture.SixSecondsAsync();
            string manifestBefore;
            byte[] fragmentBefore;
            string fragmentUrl;
            string fullPoint;
            await using (var server = await RunningServer.StartAsync(mountPoint, "--PublishingPoint:MinFreeDiskBytes=0"))
            {
                var (ok, okBody) = await Posting.PostChunkedAsync(server.Http, "live/kept.isml/Streams(enc1)", small);
                Assert.True(ok == HttpStatusCode.OK, okBody);
                var kept = await SmoothManifestView.FetchVodAsync(server.Http, "live/kept.isml/Manifest");
                manifestBefore = await server.Http.GetStringAsync("live/kept.isml/Manifest");
                fragmentUrl = kept.Url("video", 400000, kept.ChunkTimes("video")[^1]);
                fragmentBefore = await server.Http.GetByteArrayAsync(fragmentUrl);

                // Push until the archive cannot grow: the answer is 507, never a crash.
                var statuses = new List<HttpStatusCode>();
                for (var i = 0; i < 3 * 1024 * 1024 / small.Length * 2 && !statuses.Contains(HttpStatusCode.InsufficientStorage); i++)
                {
                    var (status, _) = await Posting.PostChunkedAsync(server.Http, $"live/more{i}.isml/Streams(enc1)", small);
                    statuses.Add(status);
                }

                Assert.Contains(HttpStatusCode.InsufficientStorage, statuses);
                fullPoint = $"live/more{statuses.Count - 1}.isml";
                Assert.DoesNotContain(statuses, s => (int)s >= 500 && s != HttpStatusCode.InsufficientStorage);
                Assert.Equal(manifestBefore, await server.Http.GetStringAsync("live/kept.isml/Manifest"));
                Assert.Equal(fragmentBefore, await server.Http.GetByteArrayAsync(fragmentUrl));
            }

            // After a restart on the full disk, what was archived is recovered intact.
            await using (var server = await RunningServer.StartAsync(mountPoint, "--PublishingPoint:MinFreeDiskBytes=0"))
            {
                Assert.Equal(manifestBefore, await server.Http.GetStringAsync("live/kept.isml/Manifest"));
                Assert.Equal(fragmentBefore, await server.Http.GetByteArrayAsync(fragmentUrl));
                foreach (var bad in (await PlayerCrawl.RunAsync(server.Http, fullPoint, perList: 50)).Where(PlayerCrawl.IsBad))
                {
                    Assert.Fail($"GET {bad.Url} after the restart: {(int)bad.Status} {bad.Error}");
                }
            }
        }
        finally
        {
            var unmount = await Tool.RunAsync("umount", [mountPoint], TimeSpan.FromSeconds(10));
            if (unmount.ExitCode != 0)
            {
                await Tool.RunAsync("umount", ["-l", mountPoint], TimeSpan.FromSeconds(10));
            }
        }
    }

    [Fact]
    public async Task PlayersPullingWhileThePointIsFinalised_GetNo5xxAndNoTornResponse()
    {
        await using var server = await RunningServer.StartAsync();
        var capture = await IsmvCapture.SixSecondsAsync();
        // About three seconds of pushing (16 KB every 150 ms), so players crawl it several times while it is live, whatever
        // the machine's load (at 15 ms a piece a busy run could finish the push within the first crawl).
        using var content = new SlowContent(capture, 16 * 1024, TimeSpan.FromMilliseconds(150));
        var push = server.Http.PostAsync("live/fin.isml/Streams(enc1)", content);

        var registry = server.Services.GetRequiredService<PointRegistry>();
        Assert.True(PointPath.TryParse("live/fin.isml", out var path, out _));
        var bad = new List<Fetched>();
        var fetched = 0;
        var rounds = 0;
        var afterVod = 0;
        var clock = Stopwatch.StartNew();
        while (afterVod < 3 && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            var results = await PlayerCrawl.RunAsync(server.Http, "live/fin.isml", perList: 100);
            fetched += results.Count;
            bad.AddRange(results.Where(PlayerCrawl.IsBad));
            rounds++;
            if (push.IsCompleted && registry.Find(path) is { State: PointState.Vod })
            {
                afterVod++;
            }
        }

        using var response = await push;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(afterVod == 3, "the point was not finalised in time");
        Assert.True(bad.Count == 0, string.Join('\n', bad.Take(10).Select(b => $"{b.Url}: {(int)b.Status} {b.Error} {b.Received}/{b.DeclaredLength}")));
        Assert.True(rounds > 3 && fetched > 50, $"{rounds} rounds, {fetched} requests");
    }

    /// <summary>
    /// What the publisher writes in a point's folder (its progress, every 10 s) is synced to disk. A review found it
    /// written under the point's own lock, which ingest takes for every fragment and players for every request: a slow
    /// disk held up the channel. A write into the folder that stalls now holds neither.
    /// </summary>
    [Fact]
    public async Task AFolderWriteThatStallsOnTheDisk_HoldsUpNeitherIngestNorPlayers()
    {
        await using var server = await RunningServer.StartAsync();
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.SixSecondsAsync());
        await using var push = await HeldPush.StartAsync(server.BaseUrl, "/live/stall.isml/Streams(a)");
        await push.SendAsync(header);
        await push.SendAsync(fragments[0]);
        var point = await WaitForAsync(() => server.Services.GetRequiredService<PointRegistry>().Find("live/stall.isml"), "the point");

        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var stalled = Task.Run(() => point.WriteInFolder(_ =>
        {
            entered.Set();
            release.Wait(TimeSpan.FromSeconds(60));
        }));
        try
        {
            Assert.True(entered.Wait(TimeSpan.FromSeconds(10)), "the folder write never started");
            foreach (var fragment in fragments.Skip(1))
            {
                await push.SendAsync(fragment);
            }

            // Each request bounded: one that waited on the point's lock would time out here.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await Eventually.WaitUntilAsync(async () =>
            {
                using var master = await server.Http.GetAsync("live/stall.isml/master.m3u8", timeout.Token);
                if (!master.IsSuccessStatusCode)
                {
                    return false; // the pushed fragments not indexed yet
                }

                var variant = HlsText.AttributeLines(await master.Content.ReadAsStringAsync(timeout.Token), "#EXT-X-STREAM-INF")[0].Uri!;
                using var media = await server.Http.GetAsync($"live/stall.isml/{variant}", timeout.Token);
                return media.IsSuccessStatusCode && HlsText.Segments(await media.Content.ReadAsStringAsync(timeout.Token)).Count >= 2;
            }, "the fragments pushed during the stalled write were not listed", TimeSpan.FromSeconds(15));
            Assert.False(stalled.IsCompleted);
        }
        finally
        {
            release.Set();
            Assert.True(await stalled);
        }
    }

    private static async Task<T> WaitForAsync<T>(Func<T?> probe, string what) where T : class =>
        await WaitForAsync(() => Task.FromResult(probe()), what);

    private static async Task<T> WaitForAsync<T>(Func<Task<T?>> probe, string what) where T : class
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }

            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(100);
        }
    }

    /// <summary>A chunked body sent a piece at a time, as a live encoder sends it.</summary>
    private sealed class SlowContent(byte[] body, int chunk, TimeSpan pause) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            for (var at = 0; at < body.Length; at += chunk)
            {
                await stream.WriteAsync(body.AsMemory(at, Math.Min(chunk, body.Length - at)));
                await stream.FlushAsync();
                await Task.Delay(pause);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    /// <summary>
    /// An archive file that goes away under the index (retention deleting it while a player's request for one of its
    /// fragments is already past the lookup, or an operator removing files by hand): its fragments answer 404 with a
    /// reason, not 500, and what is still in memory plays on.
    /// </summary>
    [Fact]
    public async Task AnArchiveDeletedUnderItsIndex_ItsFragmentsAnswer404_AndTheNewestStillPlay()
    {
        const string Point = "live/gone.isml";
        var capture = await IsmvCapture.MakeAsync(30, 400, 64);
        var mfra = Boxes.TopLevel(capture).Single(b => b.Type == "mfra").Offset;
        await using var server = await RunningServer.StartAsync(null,
            "--PublishingPoint:DvrWindowSeconds=120", "--PublishingPoint:FinalizeGraceSeconds=3600", "--PublishingPoint:MemoryWindowSeconds=6");
        var (status, text) = await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", capture[..mfra]); // still live
        Assert.True(status == HttpStatusCode.OK, text);
        var smooth = await SmoothManifestView.FetchAsync(server.Http, server.Url($"{Point}/Manifest").ToString());
        var times = smooth.ChunkTimes("video");
        Assert.True(times.Length >= 12, $"{times.Length} chunks");
        var segments = HlsText.Segments(await server.Http.GetStringAsync($"{Point}/hls/video-400000.m3u8")); // not the master: it reads the archive (below)
        Assert.True(segments.Count >= 12, $"{segments.Count} segments");
        var files = Directory.GetFiles(Path.Combine(server.DataPath, "live", "gone.isml"), "*.ismv");
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            File.Delete(file);
        }

        var oldest = await server.Http.GetAsync(new Uri(smooth.Url("video", smooth.Bitrates("video")[0], times[0])).PathAndQuery.TrimStart('/'));
        var body = await oldest.Content.ReadAsStringAsync();
        Assert.True(oldest.StatusCode == HttpStatusCode.NotFound, $"{(int)oldest.StatusCode} {body}");
        Assert.Contains("no longer kept", body, StringComparison.Ordinal);
        var newest = await server.Http.GetAsync(new Uri(smooth.Url("video", smooth.Bitrates("video")[0], times[^1])).PathAndQuery.TrimStart('/'));
        Assert.Equal(HttpStatusCode.OK, newest.StatusCode);

        // The same for HLS: the oldest TS segment is gone with its archive, the newest is made from memory.
        var first = await server.Http.GetAsync($"{Point}/hls/{segments[0].Uri}");
        Assert.True(first.StatusCode == HttpStatusCode.NotFound, $"{(int)first.StatusCode} {await first.Content.ReadAsStringAsync()}");
        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync($"{Point}/hls/{segments[^1].Uri}")).StatusCode);

        // A listing that reads the archive (the master's BANDWIDTH comes from sample sizes) asks to be tried again.
        var master = await server.Http.GetAsync($"{Point}/master.m3u8");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, master.StatusCode);
        Assert.NotNull(master.Headers.RetryAfter);

        // A clip of the gone interval is refused, and leaves no half-written folder behind (which would block its path
        // and be loaded as a point at the next start).
        using var point = await server.Http.GetAsync($"api/points/{Point}");
        var anchor = (await point.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("timelineAnchor").GetDateTimeOffset();
        using var clip = await server.Http.PostAsJsonAsync("api/clips", new { source = Point, path = "clips/lost.isml", start = anchor.ToString("O", CultureInfo.InvariantCulture), end = anchor.AddSeconds(10).ToString("O", CultureInfo.InvariantCulture) });
        var refused = await clip.Content.ReadAsStringAsync();
        Assert.True(clip.StatusCode == HttpStatusCode.Conflict, $"{(int)clip.StatusCode} {refused}");
        Assert.Contains("no longer kept", refused, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(server.DataPath, "clips", "lost.isml")));
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync("api/points/clips/lost.isml")).StatusCode);
        var health = await server.Http.GetAsync("health/live");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }
}
