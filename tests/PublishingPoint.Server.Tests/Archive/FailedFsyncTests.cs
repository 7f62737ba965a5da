using System.Net;
using Microsoft.Extensions.DependencyInjection;
using PublishingPoint.Server.Points;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Archive;

/// <summary>
/// A failing disk's fsync (EIO): on Linux the pages it could not write are marked clean, so the bytes written since the
/// last good fsync are lost while a second fsync succeeds. The injected fault does what such a disk does: it zeroes
/// the archive past its durable length and fails the fsync, once. The server writes those bytes again from memory,
/// so the encoder goes on and a restart finds every fragment it had indexed.
/// </summary>
public sealed class FailedFsyncTests
{
    [Fact]
    public async Task AFragmentsFailedFsync_ItIsWrittenAgain_TheEncoderGoesOn_AndARestartFindsEveryFragment()
    {
        var data = TempDirectory.Create("pp-fsync");
        var indexed = await PushThroughAFaultAsync(data, "plain", again: false, status => status == HttpStatusCode.OK, "an fsync of");
        Assert.Equal(6, indexed);
        await AssertARestartFindsAsync(data, "live/plain.isml", indexed);
    }

    [Fact]
    public async Task AnFsyncThatFailsAgain_EndsThePushWithAnError_AndTheArchiveEndsAtItsLastDurableFragment()
    {
        var data = TempDirectory.Create("pp-fsync-dead");
        var indexed = await PushThroughAFaultAsync(data, "dead", again: true, status => (int)status >= 500, "archive write failed");
        Assert.Equal(3, indexed);
        await AssertARestartFindsAsync(data, "live/dead.isml", indexed);
    }

    // Six seconds of Smooth (three 2 s fragments a track, each fsynced before it is indexed) through a fault at the
    // fourth fsync; the fragments indexed.
    private static async Task<int> PushThroughAFaultAsync(string data, string name, bool again, Func<HttpStatusCode, bool> answered, string logged)
    {
        var capture = await IsmvCapture.SixSecondsAsync();
        var log = new LogCapture();
        await using var server = await RunningServer.StartAsync(data, services => services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(log));
        var fault = FailOnce(server, $"{name}.isml", atSync: 4, again);
        var (status, body) = await Posting.PostChunkedAsync(server.Http, $"live/{name}.isml/Streams(enc1)", capture);
        Assert.True(answered(status), $"the push answered {status}: {body}");
        Assert.True(fault.Failed, "the fault was never injected");
        Assert.Contains(log.Entries, e => e.Message.Contains(logged, StringComparison.Ordinal) && e.Message.Contains("enc1", StringComparison.Ordinal));
        return Count(server, $"live/{name}.isml");
    }

    private static async Task AssertARestartFindsAsync(string data, string point, int indexed)
    {
        await using var server = await RunningServer.StartAsync(data);
        Assert.Equal(indexed, Count(server, point));
        await AssertEveryFragmentAnswersAsync(server, point);
    }

    [Fact]
    public async Task ALowLatencySegmentsFailedFsync_ItIsWrittenAgainFromMemory_AndARestartFindsIt()
    {
        var data = TempDirectory.Create("pp-fsync-ll");
        int indexed;
        await using (var server = await RunningServer.StartAsync(data))
        {
            // Chunks of 0.2 s: the segments they complete are appended without a sync, fsynced after their part is listed.
            var fault = FailOnce(server, "chunks.isml", atSync: 2);
            var push = await Encoder.PushLowLatencyCmafAsync(server.Url("live/chunks.isml/Streams(a)"), new EncoderSettings { AudioKbps = 0, Seconds = 8 });
            Assert.True(push.ExitCode == 0, Tool.Describe(push));
            Assert.True(fault.Failed, "the fault was never injected");
            // The last segment is indexed when the point is finalised, which may come after ffmpeg has its answer.
            Assert.True(PointPath.TryParse("live/chunks.isml", out var path, out _));
            await Eventually.WaitUntilAsync(() => server.Services.GetRequiredService<PointRegistry>().Find(path) is { State: PointState.Vod }, "the point to be finalised");
            indexed = Count(server, "live/chunks.isml");
            Assert.True(indexed >= 3, $"{indexed} segments indexed");
        }

        await using (var server = await RunningServer.StartAsync(data))
        {
            Assert.Equal(indexed, Count(server, "live/chunks.isml"));
        }
    }

    /// <summary>
    /// A low-latency segment is listed before its fsync (its parts were served already); when the fsync fails twice the
    /// archive is cut back to its last durable byte and the segment's media is gone. The index kept it, so a finished
    /// point's TS master (its rates are measured from every segment's samples, read from the archive) answered 503 until
    /// a restart, and its playlists listed a segment that answers 404. The lost segment is now marked: never read
    /// again, logged, left out of rates and I-frames, and an EXT-X-GAP where a playlist lists it.
    /// </summary>
    [Fact]
    public async Task ALowLatencySegmentLostToTwoFailedFsyncs_IsMarkedAGap_AndTheFinishedPointStillPlays()
    {
        var log = new LogCapture();
        await using var server = await RunningServer.StartAsync(null, services => services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(log));
        var fault = FailOnce(server, "cut.isml", atSync: 3, again: true);
        await Encoder.PushLowLatencyCmafAsync(server.Url("live/cut.isml/Streams(a)"), new EncoderSettings { AudioKbps = 0, Seconds = 8 });
        Assert.True(fault.Failed, "the fault was never injected");
        Assert.True(PointPath.TryParse("live/cut.isml", out var path, out _));
        await Eventually.WaitUntilAsync(() => server.Services.GetRequiredService<PointRegistry>().Find(path) is { State: PointState.Vod }, "the point to be finalised");

        foreach (var master in (string[])["master.m3u8", "master-fmp4.m3u8"])
        {
            using var response = await server.Http.GetAsync($"live/cut.isml/{master}");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{master}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            var masterText = await response.Content.ReadAsStringAsync();
            foreach (var (attributes, _) in Hls.HlsText.AttributeLines(masterText, "#EXT-X-I-FRAME-STREAM-INF"))
            {
                using var iframes = await server.Http.GetAsync($"live/cut.isml/{attributes["URI"]}");
                Assert.True(iframes.StatusCode == HttpStatusCode.OK, $"{attributes["URI"]}: {(int)iframes.StatusCode}");
            }

            var media = Hls.HlsText.Lines(masterText).First(l => !l.StartsWith('#') && l.EndsWith(".m3u8", StringComparison.Ordinal));
            var playlist = await server.Http.GetStringAsync($"live/cut.isml/{media}");
            Assert.Contains("#EXT-X-GAP", playlist, StringComparison.Ordinal);
            var gap = false;
            foreach (var line in Hls.HlsText.Lines(playlist))
            {
                if (line == "#EXT-X-GAP")
                {
                    gap = true;
                }
                else if (!line.StartsWith('#'))
                {
                    if (!gap)
                    {
                        using var segment = await server.Http.GetAsync(new Uri(server.Url($"live/cut.isml/{media}"), line));
                        Assert.True(segment.StatusCode == HttpStatusCode.OK, $"{media} {line}: {(int)segment.StatusCode}");
                    }

                    gap = false;
                }
            }
        }

        // The static MPD names segments by time: the lost one is a hole in its timeline, every listed one answers.
        var mpd = Dash.MpdView.Parse(await server.Http.GetStringAsync("live/cut.isml/manifest.mpd"));
        Assert.False(mpd.IsDynamic);
        foreach (var representation in mpd.Video)
        {
            foreach (var segment in representation.Segments)
            {
                using var response = await server.Http.GetAsync($"live/cut.isml/{representation.MediaUrl(segment)}");
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"{representation.MediaUrl(segment)}: {(int)response.StatusCode}");
            }
        }

        Assert.Contains(log.Entries, e => e.Message.Contains("lost", StringComparison.Ordinal) && e.Message.Contains("live/cut.isml", StringComparison.Ordinal));
    }

    private sealed class Fault
    {
        public int Syncs;
        public bool Failed;
    }

    // The point's archive fails its first fsync from the atSync-th on that has bytes to lose, after zeroing them (lost
    // pages); with again, every fsync after it fails too.
    private static Fault FailOnce(RunningServer server, string pointFolder, int atSync, bool again = false)
    {
        var fault = new Fault();
        server.Services.GetRequiredService<PointRegistry>().ArchiveFiles.SyncFault = (path, durable) =>
        {
            if (!path.Contains(pointFolder, StringComparison.Ordinal) || Interlocked.Increment(ref fault.Syncs) < atSync || (fault.Failed && !again))
            {
                return false;
            }

            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
            var length = RandomAccess.GetLength(handle);
            if (length == durable)
            {
                return again && fault.Failed;
            }

            RandomAccess.Write(handle, new byte[length - durable], durable);
            fault.Failed = true;
            return true;
        };
        return fault;
    }

    private static int Count(RunningServer server, string point)
    {
        Assert.True(PointPath.TryParse(point, out var path, out _));
        return server.Services.GetRequiredService<PointRegistry>().Find(path) is { } found ? found.Tracks().Sum(t => t.Count) : 0;
    }

    private static async Task AssertEveryFragmentAnswersAsync(RunningServer server, string point)
    {
        var manifest = await SmoothManifestView.FetchVodAsync(server.Http, $"{point}/Manifest");
        foreach (var time in manifest.ChunkTimes("video"))
        {
            using var response = await server.Http.GetAsync(new Uri(manifest.Url("video", 400000, time), UriKind.Relative));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"fragment at {time} answered {response.StatusCode}");
        }
    }
}
